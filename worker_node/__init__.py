"""The Switchboard worker node: hosts WhatsApp sessions for the gateway. Run it with ``python -m worker_node``."""

__version__ = "0.1.0"
