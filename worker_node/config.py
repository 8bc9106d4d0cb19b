"""The worker's configuration, all from the environment (see .env.example, section "Worker node")."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from worker_node.contract.env import Env

# The worker reports a bad variable as the gateway does (node.py prints the message and exits).
_env = Env(ImproperlyConfigured)
bad_value, env_bool, env_choice, env_float, env_int, env_str = (
    _env.bad_value,
    _env.flag,
    _env.choice,
    _env.number,
    _env.whole,
    _env.text,
)


def _schedule(name: str, default: str) -> tuple[float, ...]:
    raw = env_str(name, default)
    try:
        values = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise bad_value(name, raw, "comma-separated seconds, e.g. 60,20,20,20,20,20") from None
    if not values or min(values) <= 0:
        raise bad_value(name, raw, "comma-separated positive seconds")
    return values


def _read(path: str) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise bad_value("WORKER_ENROLLMENT_TOKEN_FILE", path, f"a readable file ({error.strerror})") from None


@dataclass(frozen=True)
class WorkerConfig:
    gateway_url: str
    enrollment_token: str
    name: str
    listen_host: str
    listen_port: int
    advertise_url: str
    capacity: int
    engine: str
    data_dir: Path
    object_store_dir: Path
    snapshot_keys: str
    debug: bool
    snapshot_debounce: float
    sandbox_qr_schedule: tuple[float, ...]
    event_batch_size: int
    event_interval: float
    log_level: str
    redis_url: str
    redis_prefix: str

    @classmethod
    def from_env(cls) -> WorkerConfig:
        listen_host = env_str("WORKER_LISTEN_HOST", "127.0.0.1")
        listen_port = env_int("WORKER_LISTEN_PORT", 8100, minimum=1, maximum=65535)
        data_dir = Path(env_str("WORKER_DATA_DIR", "var/worker")).resolve()
        var_dir = Path(env_str("SWITCHBOARD_VAR_DIR", "var")).resolve()
        return cls(
            gateway_url=env_str("GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/"),
            enrollment_token=env_str("WORKER_ENROLLMENT_TOKEN", "")
            or _read(env_str("WORKER_ENROLLMENT_TOKEN_FILE", "")),
            name=env_str("WORKER_NAME", socket.gethostname()),
            listen_host=listen_host,
            listen_port=listen_port,
            advertise_url=env_str("WORKER_ADVERTISE_URL", f"http://{listen_host}:{listen_port}").rstrip("/"),
            capacity=env_int("WORKER_CAPACITY", 100, minimum=1),
            engine=env_choice("WORKER_ENGINE", "sandbox", ("sandbox", "neonize")),
            data_dir=data_dir,
            object_store_dir=var_dir,
            snapshot_keys=env_str("WORKER_SNAPSHOT_KEYS", ""),
            # The gateway's own DEBUG, so that one switch says "a developer's machine" to every process (make run).
            debug=env_bool("DEBUG", False),
            snapshot_debounce=env_float("WORKER_SNAPSHOT_DEBOUNCE_SECONDS", 30.0, minimum=0.0),
            sandbox_qr_schedule=_schedule("SANDBOX_QR_SCHEDULE", "60,20,20,20,20,20"),
            event_batch_size=env_int("WORKER_EVENT_BATCH_SIZE", 100, minimum=1, maximum=1000),
            event_interval=env_int("WORKER_EVENT_INTERVAL_MS", 100, minimum=0, maximum=1000) / 1000,
            log_level=env_str("LOG_LEVEL", "INFO").upper(),
            # The sandbox engine's numbers reach those on other workers through Redis, when there is one.
            redis_url=env_str("REDIS_URL", ""),
            redis_prefix=env_str("REDIS_KEY_PREFIX", "switchboard"),
        )
