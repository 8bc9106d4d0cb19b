"""Engine registry: the worker runs exactly one engine, chosen by WORKER_ENGINE."""

from __future__ import annotations

from worker_node.config import WorkerConfig
from worker_node.engines.base import Engine


def build_engine(config: WorkerConfig) -> Engine:
    # Only the chosen engine is imported: neonize loads its Go library on import, which a sandbox worker never needs.
    if config.engine == "sandbox":
        from worker_node.engines.sandbox import SandboxEngine  # the chosen engine only (above)
        from worker_node.engines.sandbox_network import SandboxNetwork  # Redis, for the sandbox only

        network = SandboxNetwork(config.redis_url, config.redis_prefix)
        return SandboxEngine(qr_schedule=config.sandbox_qr_schedule, network=network)
    from worker_node.engines.neonize_engine import NeonizeEngine  # loads neonize's Go library: only when chosen

    return NeonizeEngine()
