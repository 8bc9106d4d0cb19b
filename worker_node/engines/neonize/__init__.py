"""The parts of the neonize engine (see ``worker_node.engines.neonize_engine``).

Nothing here imports neonize at import time: ``NeonizeEngine()`` does, after configuring logging.
"""
