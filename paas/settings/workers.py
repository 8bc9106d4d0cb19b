"""Worker pool and sessions: heartbeats, failover timing, enabled engines."""

from __future__ import annotations

from paas.env import bad_value, env_bool, env_float, env_int, env_list

# How often workers report; the gateway tells them this in every heartbeat answer.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.2)
# A worker silent for this long is dead: its sessions fail over to the others.
WORKER_DEAD_AFTER_SECONDS = env_int("WORKER_DEAD_AFTER_SECONDS", 30, minimum=1)
# A drained worker hands its sessions over one heartbeat after another, each after a final snapshot; what it still
# holds this long after the drain began moves anyway (epoch + 1 fences its copy off).
WORKER_DRAIN_TIMEOUT_SECONDS = env_int("WORKER_DRAIN_TIMEOUT_SECONDS", 120, minimum=10)
# How long the gateway waits for a worker to answer a command.
WORKER_COMMAND_TIMEOUT = env_float("WORKER_COMMAND_TIMEOUT", 3.0, minimum=0.1)

# Engines customers may choose when creating a session; the first is the default.
SESSION_ENGINES = env_list("SESSION_ENGINES", ["sandbox"])
for _engine in SESSION_ENGINES:
    if _engine not in {"sandbox", "neonize"}:
        raise bad_value("SESSION_ENGINES", ",".join(SESSION_ENGINES), "a comma-separated list of sandbox, neonize")
if not SESSION_ENGINES:
    raise bad_value("SESSION_ENGINES", "", "at least one of sandbox, neonize")

# Media of outgoing messages: the largest accepted (WhatsApp's own limit for documents is 100 MB) and how long a
# media URL may take to download.
MEDIA_MAX_BYTES = env_int("MEDIA_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
MEDIA_FETCH_TIMEOUT = env_float("MEDIA_FETCH_TIMEOUT", 20.0, minimum=1.0)
# A JSON body may carry base64 media (4/3 of its size) plus the message around it.
DATA_UPLOAD_MAX_MEMORY_SIZE = MEDIA_MAX_BYTES * 4 // 3 + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Let media and webhook URLs reach loopback and private networks: for development and tests only.
ALLOW_PRIVATE_NETWORK_TARGETS = env_bool("ALLOW_PRIVATE_NETWORK_TARGETS", False)
# Messages a session sends per minute by default (a burst of a few is allowed), and the most a session may be set to.
SEND_RATE_PER_MINUTE = env_int("SEND_RATE_PER_MINUTE", 30, minimum=1)
SEND_RATE_MAX_PER_MINUTE = env_int("SEND_RATE_MAX_PER_MINUTE", 600, minimum=1)
# How long a queued message waits for its session before it fails as expired (per request settable).
MESSAGE_EXPIRY_SECONDS = env_int("MESSAGE_EXPIRY_SECONDS", 4 * 3600, minimum=60)

# Seconds a webhook endpoint has to answer before the attempt counts as failed.
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 15.0, minimum=1.0)
# Seconds before each delivery attempt of a webhook (the first is 0: at once).
WEBHOOK_RETRY_SCHEDULE = [
    float(x)
    for x in env_list(
        "WEBHOOK_RETRY_SCHEDULE", ["0", "5", "300", "1800", "7200", "18000", "36000", "50400", "72000", "86400"]
    )
]
# Seconds an attempt may be in flight before the sweep assumes its Celery worker died and tries again.
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 60, minimum=5)
