from django.apps import AppConfig

from paas.celery import ensure_broker_folders


class PaasConfig(AppConfig):
    name = "paas"
    verbose_name = "Switchboard platform"

    def ready(self) -> None:
        # Imported once the app registry is ready: the schema module loads DRF and the apps' models.
        from paas import schema  # noqa: F401  (registers the OpenAPI extension for API-key auth)

        ensure_broker_folders()
