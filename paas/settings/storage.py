"""Object storage: a local folder under var/ by default, S3 / MinIO (django-storages + boto3) when configured."""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from paas.settings.base import DEBUG, VAR_DIR
from paas.settings.env import env_bool, env_str

S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL", "")
S3_BUCKET = env_str("S3_BUCKET", "")
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY", "")
S3_REGION = env_str("S3_REGION", "us-east-1")
OBJECT_STORE_DIR = VAR_DIR / "objects"


def s3_storage(*, endpoint_url: str, bucket: str, access_key: str, secret_key: str, region: str) -> dict[str, Any]:
    """The STORAGES entry for an S3-compatible store; shared with the test suite, which points it at moto."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "endpoint_url": endpoint_url or None,
            "bucket_name": bucket,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "region_name": region,
            "default_acl": None,
            "file_overwrite": True,
            "querystring_auth": True,
            "querystring_expire": 300,
            # MinIO wants path-style addressing; short timeouts keep /readyz honest when the store is down.
            "addressing_style": "path",
            "signature_version": "s3v4",
            "client_config": Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
        },
    }


if S3_BUCKET or S3_ENDPOINT_URL:
    _default_storage = s3_storage(
        endpoint_url=S3_ENDPOINT_URL,
        bucket=S3_BUCKET or "switchboard",
        access_key=S3_ACCESS_KEY_ID,
        secret_key=S3_SECRET_ACCESS_KEY,
        region=S3_REGION,
    )
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(OBJECT_STORE_DIR)},
    }

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
