"""Webhooks: endpoints and their secrets, deliveries with retries, and Standard Webhooks signing."""
