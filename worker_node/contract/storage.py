"""Which object store to use, from the environment. Shared by the gateway's settings and the worker node, which
configures only storage (it never loads the gateway's settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.config import Config

from worker_node.contract.env import env_str


def s3_storage(*, endpoint_url: str, bucket: str, access_key: str, secret_key: str, region: str) -> dict[str, Any]:
    """The STORAGES entry for an S3-compatible store; the test suite points it at moto."""
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


def default_storage_from_env(var_dir: Path) -> dict[str, Any]:
    """S3 / MinIO when S3_BUCKET or S3_ENDPOINT_URL is set, else the local folder ``var_dir/objects``."""
    endpoint = env_str("S3_ENDPOINT_URL", "")
    bucket = env_str("S3_BUCKET", "")
    if bucket or endpoint:
        return s3_storage(
            endpoint_url=endpoint,
            bucket=bucket or "switchboard",
            access_key=env_str("S3_ACCESS_KEY_ID", ""),
            secret_key=env_str("S3_SECRET_ACCESS_KEY", ""),
            region=env_str("S3_REGION", "us-east-1"),
        )
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Snapshots and media keep their names: a rewrite replaces the object, as on S3.
        "OPTIONS": {"location": str(var_dir / "objects"), "allow_overwrite": True},
    }
