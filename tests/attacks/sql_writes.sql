-- Write attempts through the read-only SQL paths: one statement per line ("--" lines are
-- comments; {tmp} is a scratch directory). Every one must be refused, and every table of the
-- store must hold exactly the rows it held before. A new finding is one more line.
-- Plain writes and DDL (refused by the statement check, and by the engine behind it)
INSERT INTO transitions SELECT * FROM transitions
INSERT INTO dead_letters SELECT * FROM dead_letters
UPDATE transitions SET board = 'x'
UPDATE ingest_positions SET last_offset = last_offset + 100
DELETE FROM transitions
DELETE FROM dead_letters
DELETE FROM ingest_counts
DELETE FROM ingest_positions
DELETE FROM tickets
TRUNCATE visits
CREATE TABLE stolen AS SELECT * FROM transitions
CREATE TEMP TABLE stolen AS SELECT * FROM transitions
CREATE VIEW evil AS SELECT 1
CREATE OR REPLACE VIEW wip_now AS SELECT 1 AS wip
CREATE SEQUENCE evil_seq
CREATE MACRO evil(a) AS a
CREATE SCHEMA evil
CREATE INDEX evil_idx ON transitions (ticket_id)
CREATE TYPE evil AS ENUM ('a')
DROP VIEW wip_now
DROP TABLE transitions
DROP TABLE IF EXISTS dead_letters
ALTER TABLE transitions ADD COLUMN x INT
ALTER TABLE transitions RENAME TO moved
ALTER VIEW wip_now RENAME TO gone
COMMENT ON TABLE transitions IS 'owned'
INSERT OR REPLACE INTO flowmeter_meta SELECT * FROM flowmeter_meta
-- Settings, pragmas, extensions, files, other databases
SET threads = 1
RESET threads
SET memory_limit = '1MB'
SET enable_external_access = true
SET lock_configuration = false
PRAGMA threads = 1
PRAGMA enable_checkpoint_on_shutdown
COPY transitions TO '{tmp}/out.csv'
COPY transitions FROM '{tmp}/in.csv'
COPY (SELECT 1) TO '{tmp}/out.parquet' (FORMAT parquet)
ATTACH '{tmp}/other.duckdb' AS other
ATTACH ':memory:' AS scratch
DETACH flow
USE temp
INSTALL httpfs
LOAD httpfs
FORCE INSTALL httpfs
EXPORT DATABASE '{tmp}/export'
IMPORT DATABASE '{tmp}/export'
CHECKPOINT
FORCE CHECKPOINT
VACUUM transitions
BEGIN TRANSACTION
COMMIT
ROLLBACK
PREPARE evil AS DELETE FROM transitions
EXECUTE evil
SET VARIABLE evil = 1
CREATE SECRET evil (TYPE s3, KEY_ID 'a', SECRET 'b')
SELECT * FROM read_csv('/etc/hostname')
SELECT * FROM read_parquet('{tmp}/x.parquet')
SELECT * FROM glob('/etc/*')
SELECT * FROM read_text('https://example.invalid/x')
SELECT * FROM read_blob('/etc/passwd')
SELECT * FROM duckdb_secrets()
-- Writes that DuckDB's own parser reports as SELECT (docs/architecture.md#11-a-statement-type-check-is-no-read-only-guarantee): only the engine stops these
WITH d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM transitions RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM ingest_counts RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM tickets RETURNING ticket_id) SELECT * FROM d
WITH d AS (DELETE FROM visits RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM alerts RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM alert_deliveries RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM workflow_states RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM wip_limits RETURNING 1) SELECT count(*) FROM d
WITH d AS (DELETE FROM flowmeter_meta RETURNING 1) SELECT count(*) FROM d
WITH u AS (UPDATE ingest_positions SET last_offset = last_offset + 100 RETURNING 1) SELECT count(*) FROM u
WITH u AS (UPDATE transitions SET board = 'owned' RETURNING 1) SELECT count(*) FROM u
WITH u AS (UPDATE ingest_counts SET landed = 0 RETURNING 1) SELECT count(*) FROM u
WITH i AS (INSERT INTO transitions SELECT * FROM transitions LIMIT 5 RETURNING 1) SELECT count(*) FROM i
WITH i AS (INSERT INTO dead_letters SELECT * FROM dead_letters RETURNING 1) SELECT count(*) FROM i
WITH i AS (INSERT INTO deploys SELECT * FROM deploys RETURNING 1) SELECT count(*) FROM i
WITH a AS (SELECT 1), d AS (DELETE FROM dead_letters RETURNING 1) SELECT * FROM a, d
WITH RECURSIVE d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d
SELECT (WITH d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d)
SELECT * FROM (WITH d AS (DELETE FROM transitions RETURNING 1) SELECT count(*) FROM d)
FROM (WITH d AS (DELETE FROM transitions RETURNING 1) SELECT count(*) AS n FROM d)
WITH d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d UNION ALL SELECT 1
EXPLAIN ANALYZE WITH d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d
EXPLAIN ANALYZE WITH u AS (UPDATE ingest_positions SET last_offset = 999999 RETURNING 1) SELECT count(*) FROM u
explain   analyse WITH d AS (DELETE FROM transitions RETURNING 1) SELECT count(*) FROM d
EXPLAIN ANALYZE DELETE FROM transitions
EXPLAIN DELETE FROM transitions
SELECT nextval('evil_seq')
SELECT setval('evil_seq', 10)
-- Several statements in one
SELECT 1; DELETE FROM transitions
SELECT 1; WITH d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d
COMMIT; DELETE FROM transitions
ROLLBACK; UPDATE ingest_positions SET last_offset = 999999
