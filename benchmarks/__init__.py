"""Benchmarks: each prints its figures next to a ceiling or baseline measured in the same run."""
