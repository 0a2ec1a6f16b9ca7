"""stackwise_django: the python-django target's Django project (settings, URLs, views, WSGI entry)."""
