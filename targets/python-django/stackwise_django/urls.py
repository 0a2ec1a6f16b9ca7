"""urls.py: the contract endpoints of the python-django target."""

from django.urls import path

from . import views

urlpatterns = [
    path("plaintext", views.plaintext),
    path("json", views.json_),
    path("io", views.io),
    path("cpu", views.cpu),
    path("hash", views.hash_),
]
