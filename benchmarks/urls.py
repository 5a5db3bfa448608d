from django.urls import path

from attribution.urls import urlpatterns as product

from . import views

urlpatterns = [
    path("bench/parse", views.bare_parse),
    path("bench/redirect/<str:code>", views.bare_redirect),
    *product,
]
