"""WSGI entry point (gunicorn ``rightscare.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightscare.settings")
application = get_wsgi_application()
