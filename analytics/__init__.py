"""The DuckDB store (landed facts, ingest positions, the SQL views over them), read-only
queries, and the one client that reads them through the worker or from the file."""
