"""settings.py: production settings of the python-django target (Django 5.2 LTS, contract:
docs/contract.md).

DEBUG off; no database, no installed apps; the middleware a production JSON API keeps: SecurityMiddleware
(security headers) and CommonMiddleware (ALLOWED_HOSTS/URL normalisation). Sessions, auth, messages,
CSRF and clickjacking middleware serve cookie-based HTML sites and are left out, as an API would.
"""

import os

# Nothing is signed (no sessions, no CSRF); the lab may set its own.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "stackwise-lab-nothing-is-signed")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "stackwise_django.urls"
WSGI_APPLICATION = "stackwise_django.wsgi.application"
DATABASES: dict = {}
TEMPLATES: list = []

USE_TZ = True
USE_I18N = False
