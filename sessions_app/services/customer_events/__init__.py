"""Customer events: the envelope every event has, stored with its deliveries, and its fan-out to live sockets."""
