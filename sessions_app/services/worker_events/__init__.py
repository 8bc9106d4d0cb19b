"""What workers report: ingest of event batches, and the message events (sent, receipts, received) they carry."""
