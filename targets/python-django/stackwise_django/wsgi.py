"""wsgi.py: the WSGI entry point gunicorn serves (stackwise_django.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackwise_django.settings")
application = get_wsgi_application()
