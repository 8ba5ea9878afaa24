"""The DuckDB store: landed facts, ingest positions, and the SQL views over them."""
