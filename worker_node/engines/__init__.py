"""Engine registry: the worker runs exactly one engine, chosen by WORKER_ENGINE."""

from __future__ import annotations

from worker_node.config import WorkerConfig
from worker_node.engines.base import Engine


def build_engine(config: WorkerConfig) -> Engine:
    if config.engine == "sandbox":
        from worker_node.engines.sandbox import SandboxEngine

        return SandboxEngine(qr_schedule=config.sandbox_qr_schedule)
    from worker_node.engines.neonize_engine import NeonizeEngine

    return NeonizeEngine()
