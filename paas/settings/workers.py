"""Worker pool and sessions: heartbeats, failover timing, enabled engines."""

from __future__ import annotations

from paas.env import bad_value, env_float, env_int, env_list

# How often workers report; the gateway tells them this in every heartbeat answer.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.2)
# A worker silent for this long is dead: its sessions fail over to the others.
WORKER_DEAD_AFTER_SECONDS = env_int("WORKER_DEAD_AFTER_SECONDS", 30, minimum=1)
# How long the gateway waits for a worker to answer a command.
WORKER_COMMAND_TIMEOUT = env_float("WORKER_COMMAND_TIMEOUT", 3.0, minimum=0.1)

# Engines customers may choose when creating a session; the first is the default.
SESSION_ENGINES = env_list("SESSION_ENGINES", ["sandbox"])
for _engine in SESSION_ENGINES:
    if _engine not in {"sandbox", "neonize"}:
        raise bad_value("SESSION_ENGINES", ",".join(SESSION_ENGINES), "a comma-separated list of sandbox, neonize")
if not SESSION_ENGINES:
    raise bad_value("SESSION_ENGINES", "", "at least one of sandbox, neonize")
