"""WSGI entry point, for management tooling only: the gateway runs as ASGI (paas.asgi) under uvicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
application = get_wsgi_application()
