"""What the gateway and the worker share, and the only part of ``worker_node`` the gateway imports.

Neither Django nor Celery is imported here (import-linter checks it, see ``.importlinter``): the command routes and
their bodies (``commands``), the events a worker posts (``events``), the outbox message it receives (``outbox``), how
commands are signed (``signing``), how tokens are hashed (``tokens``), where snapshots are stored and which store
(``snapshots``, ``storage``), which outbound addresses are never contacted (``netguard``), and how both processes read
their environment (``env``).
"""
