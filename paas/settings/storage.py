"""Object storage: a local folder under var/ by default, S3 / MinIO (django-storages + boto3) when configured."""

from __future__ import annotations

from paas.env import env_bool
from paas.settings.base import DEBUG, VAR_DIR
from worker_node.contract.storage import default_storage_from_env

_default_storage = default_storage_from_env(VAR_DIR)

STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}
# With DEBUG on, static files are served straight from the source folders, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
WHITENOISE_AUTOREFRESH = DEBUG
