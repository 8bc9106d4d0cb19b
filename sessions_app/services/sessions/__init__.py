"""WhatsApp sessions: their lifecycle (create, start, stop, log out, delete, pair) and their recorded state."""
