"""Conversion kinds as AppsFlyer names them (issue 19): an install after the re-attribution window is a
new ``install`` again, and ``reattribution`` now means a reinstall inside the window credited to a
retargeting click. Stored results of the old ``reattribution`` kind are renamed in place
(``conversion_kind`` is no key column, so a mutation can rewrite it).

Reinstalls stored before this change that had a retargeting click stay ``reinstall`` until recomputed:
``manage.py run_attribution --recompute --from … --to …`` over the periods that matter.
"""

OPERATIONS = [
    # Idempotent before the engine writes the new kind: the migrations run before any attribution does.
    "ALTER TABLE attributions UPDATE conversion_kind = 'install' WHERE conversion_kind = 'reattribution'"
    " SETTINGS mutations_sync = 2",
]
