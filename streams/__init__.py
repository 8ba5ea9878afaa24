"""Stream processing: the Faust worker that lands events exactly once, its web API, `load`,
topics and the embedded broker."""
