"""Messages: sending (validation, media, recipients, idempotency), the outbox hand-over to workers, chat actions."""
