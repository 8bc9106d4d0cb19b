from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    # An explicit label, so it is never confused with django.contrib.sessions.
    label = "sessions_app"
    verbose_name = "WhatsApp sessions and messages"

    def ready(self) -> None:
        # The services enqueue tasks by name (services/jobs.py), so every process that enqueues must have them
        # registered: the gateway and the worker's own processes, not only the Celery worker that autodiscovers them.
        from sessions_app import tasks  # noqa: F401
