from django.apps import AppConfig


class WorkersAppConfig(AppConfig):
    name = "workers_app"
    label = "workers_app"
    verbose_name = "Worker nodes"
