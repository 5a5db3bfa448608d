// The little behaviour the pages have: copy buttons, the live events' refresh, report filters that
// leave their empty fields out of the link, and the page's tab scrolled into sight. Everything works
// without it except the first two (without it, a shared link merely carries the empty fields and a
// phone may show the tab bar from its start). Loaded with defer.
(function () {
  "use strict";

  // On a phone the tab bar scrolls sideways: the tab of this page is brought into it, centred.
  var current = document.querySelector(".nav [aria-current=page]");
  if (current) {
    var nav = current.closest(".nav");
    nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
  }

  // <form data-filters>: an empty field is not sent, so the address (the view to share) names only
  // the filters set. Coming back to the page (back button, page cache) enables them again.
  var filterForms = document.querySelectorAll("form[data-filters]");
  filterForms.forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("input[name], select[name]").forEach(function (field) {
        if (field.value === "") field.disabled = true;
      });
    });
  });
  window.addEventListener("pageshow", function () {
    filterForms.forEach(function (form) {
      form.querySelectorAll("[disabled]").forEach(function (field) {
        field.disabled = false;
      });
    });
  });

  // <button data-copy="id-of-an-input">: copies that input's value.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        button.classList.add("copied");
        setTimeout(function () {
          button.textContent = label;
          button.classList.remove("copied");
        }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select();
        });
      } else {
        field.select();
        if (document.execCommand("copy")) done();
      }
    });
  });

  // <section data-live="seconds">: its [data-live-rows] element is fetched again every so often,
  // while the page is visible and not paused by its [data-live-toggle] button.
  document.querySelectorAll("[data-live]").forEach(function (section) {
    var rows = section.querySelector("[data-live-rows]");
    var toggle = section.querySelector("[data-live-toggle]");
    var status = section.querySelector("[data-live-status]");
    var paused = false;
    var refresh = function () {
      if (paused || document.hidden) return;
      fetch(window.location.href, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-rows]");
          if (!fresh) throw new Error("no events in the answer (signed out?)");
          rows.replaceWith(fresh);
          rows = fresh;
          status.textContent = "Updated " + new Date().toLocaleTimeString();
        })
        .catch(function () {
          status.textContent = "Could not refresh (signed out, or the server is away); trying again shortly.";
        });
    };
    setInterval(refresh, 1000 * Number(section.dataset.live));
    toggle.addEventListener("click", function () {
      paused = !paused;
      toggle.textContent = paused ? "Resume" : "Pause";
      toggle.setAttribute("aria-pressed", String(paused));
      status.textContent = paused ? "Paused" : "Refreshing every " + section.dataset.live + " s";
    });
  });
})();
