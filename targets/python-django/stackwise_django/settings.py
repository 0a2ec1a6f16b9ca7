"""settings.py: production settings of the python-django target (Django 5.2 LTS, contract:
docs/contract.md).

DEBUG off; the middleware a production JSON API keeps: SecurityMiddleware
(security headers) and CommonMiddleware (ALLOWED_HOSTS/URL normalisation). Sessions, auth, messages,
CSRF and clickjacking middleware serve cookie-based HTML sites and are left out, as an API would.

The database (docs/contract.md, "Database endpoints"): DATABASE_URL parsed into DATABASES["default"],
PostgreSQL through psycopg 3 with Django's own connection pool (OPTIONS["pool"], psycopg_pool), a
fixed-size pool of DB_POOL connections per worker process (psycopg_pool's default shape: max_size =
min_size); CONN_MAX_AGE stays 0, as the pool requires. Without DATABASE_URL there is no database and
the database views answer 503. The one installed app is this project (its unmanaged models and the
fortunes template, rendered by Django templates with auto-escaping).
"""

import os
from urllib.parse import parse_qsl, unquote, urlsplit


def database_settings() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return {}
    u = urlsplit(url)
    if u.scheme not in ("postgres", "postgresql") or not u.path.strip("/"):
        raise SystemExit(f"error: DATABASE_URL='{url}' is not a postgresql://USER@HOST:PORT/DBNAME URL")
    raw_pool = os.environ.get("DB_POOL", "") or "4"
    if not raw_pool.isdigit() or int(raw_pool) < 1:
        raise SystemExit(f"error: DB_POOL='{raw_pool}' is not a positive integer")
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(u.path.strip("/")),
            "USER": unquote(u.username or ""),
            "PASSWORD": unquote(u.password or ""),
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
            "OPTIONS": {**dict(parse_qsl(u.query)), "pool": {"min_size": int(raw_pool)}},
        }
    }


# Nothing is signed (no sessions, no CSRF); the lab may set its own.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "stackwise-lab-nothing-is-signed")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["stackwise_django"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "stackwise_django.urls"
WSGI_APPLICATION = "stackwise_django.wsgi.application"
DATABASES = database_settings()
# Read by the views (Django replaces an empty DATABASES with a dummy "default" backend).
STACKWISE_HAS_DATABASE = bool(DATABASES)
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

USE_TZ = True
USE_I18N = False
