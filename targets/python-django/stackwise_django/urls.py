"""urls.py: the contract endpoints of the python-django target."""

from django.urls import path

from . import views

urlpatterns = [
    path("plaintext", views.plaintext),
    path("json", views.json_),
    path("io", views.io),
    path("cpu", views.cpu),
    path("hash", views.hash_),
    path("vector", views.vector),
    path("db", views.single_query),
    path("queries", views.queries),
    path("fortunes", views.fortunes),
    path("updates", views.updates),
    path("items", views.items),
    path("items/<int:item_id>", views.item),
]
