"""Settings for the test suite (outside the settings package so its environment defaults apply before it loads).

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL, defaulting to this machine's services. With CI=true a missing
service stops the run; elsewhere the suite falls back to the embedded defaults with a warning, so a laptop without
them can still run most tests. The S3 server (moto) is started by the test session itself (conftest.py).
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-the-checks-0123456789")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("REDIS_KEY_PREFIX", "switchboard-test")
# Under pytest-xdist every worker is a process with a test database of its own (pytest-django adds _gw0, _gw1, …).
# Its Redis keys (cache, channel layer, the Celery queues of end-to-end tests) are its own too, and so are those of
# the child processes it starts, which the environment tells. So is its var/ folder (the embedded cache and broker
# when there is no Redis), for these settings only: each test gives its children a folder of their own.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_VAR_DIR = os.environ.get("SWITCHBOARD_VAR_DIR")
if _XDIST_WORKER and not os.environ["REDIS_KEY_PREFIX"].endswith(f"-{_XDIST_WORKER}"):
    os.environ["REDIS_KEY_PREFIX"] += f"-{_XDIST_WORKER}"
if _XDIST_WORKER:
    _var = _VAR_DIR or os.path.join(os.path.dirname(os.path.dirname(__file__)), "var")
    os.environ["SWITCHBOARD_VAR_DIR"] = os.path.join(_var, f"test-{_XDIST_WORKER}")
IN_CI = os.environ.get("CI", "").lower() == "true"
_SERVICES = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


for _name, _default in _SERVICES.items():
    _url = os.environ.get(_name) or _default
    if _reachable(_url):
        os.environ[_name] = _url
    elif IN_CI:
        raise ImproperlyConfigured(f"{_name}: the service at {_url} is not reachable, and CI=true requires it.")
    else:
        os.environ.pop(_name, None)
        warnings.warn(f"{_name} {_url} unreachable: tests use the embedded default instead", stacklevel=1)
        print(f"warning: {_name} {_url} is unreachable; using the embedded default", file=sys.stderr)

from paas.settings import *  # noqa: E402, F403

if _VAR_DIR is None:
    os.environ.pop("SWITCHBOARD_VAR_DIR", None)
else:
    os.environ["SWITCHBOARD_VAR_DIR"] = _VAR_DIR

# MD5 for speed; PBKDF2 too, for users that a gateway child process (production hashers) must log in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
ALLOWED_HOSTS = ["*"]
SECURE_COOKIES = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The test client and live_server speak plain HTTP (tests of the redirect turn it on with override_settings).
SECURE_SSL_REDIRECT = False
# Tests serve static files from the source folders through the finders; there is no collected copy.
STATIC_ROOT = None  # type: ignore[assignment]
# Every HTTP request of httpx would be logged at INFO; the test output wants failures, not traffic.
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}  # type: ignore[index]  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # One test database per run, so concurrent runs on one machine (developers, CI) never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_switchboard_{os.getpid()}"}  # noqa: F405
