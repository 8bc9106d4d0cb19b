from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    # An explicit label, so it is never confused with django.contrib.sessions.
    label = "sessions_app"
    verbose_name = "WhatsApp sessions and messages"
