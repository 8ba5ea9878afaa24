"""Event sources: files, the demo generator and the producer that sends their events to Kafka."""
