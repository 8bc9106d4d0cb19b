"""The Switchboard project package: settings, URLs, the ASGI app, the Celery app and shared API conventions."""

from paas.celery import app as celery_app

__all__ = ["celery_app"]
