"""Celery: kombu's filesystem transport under var/ by default, Redis when REDIS_URL is set."""

from __future__ import annotations

from datetime import timedelta

from paas.env import env_bool, env_int
from paas.settings.base import VAR_DIR
from paas.settings.redis import REDIS_KEY_PREFIX, REDIS_URL

CELERY_BROKER_DIR = VAR_DIR / "broker"

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
        # A task a worker took but did not acknowledge (it died) is handed out again after this long.
        "visibility_timeout": 3600,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tests and one-off scripts may run tasks in-process.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    "sweep-webhooks": {"task": "sessions_app.tasks.sweep_webhooks", "schedule": timedelta(seconds=5)},
    "sweep-outbox": {"task": "sessions_app.tasks.sweep_outbox", "schedule": timedelta(seconds=10)},
    "sweep-dead-workers": {
        "task": "workers_app.tasks.sweep_dead_workers",
        "schedule": timedelta(seconds=env_int("WORKER_SWEEP_SECONDS", 10, minimum=1)),
    },
    "clear-expired-portal-sessions": {
        "task": "paas.tasks.clear_expired_portal_sessions",
        "schedule": timedelta(hours=6),
    },
}
