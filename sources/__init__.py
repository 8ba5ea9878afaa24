"""Event sources: the webhook receiver and its adapters, history import, JSON Lines files,
the demo generator and the producer that sends their events to Kafka."""
