"""Stream processing: the v1 event contract and the Faust worker that lands events."""
