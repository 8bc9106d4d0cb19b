from django.apps import AppConfig


class PaasConfig(AppConfig):
    name = "paas"
    verbose_name = "Switchboard platform"

    def ready(self) -> None:
        from paas import schema  # noqa: F401  (registers the OpenAPI extension for API-key auth)
        from paas.celery import ensure_broker_folders

        ensure_broker_folders()
