-- ingest_status: what became of every input event, per kind.
-- Definition: landed = events stored (distinct event_id); duplicates = events whose
--   event_id was already stored; dead_lettered = events that broke the contract
--   (kind 'unknown' when the kind could not be told; a dead letter another producer put on
--   the dead-letter topic keeps the kind it was sent with, and any such kind gets its own row).
--   received = the sum of the three.
--   last_event_at = latest event time among stored events; last_landed_at = when
--   the latest of them was written.
-- Grain: one row per kind (deploy, incident, transition, unknown, then any other kind counted).
-- Unit: events; times UTC.
CREATE OR REPLACE VIEW ingest_status AS
WITH kinds(kind) AS (
    SELECT * FROM (VALUES ('transition'), ('deploy'), ('incident'), ('unknown'))
    UNION
    SELECT DISTINCT kind FROM ingest_counts
),
counts AS (
    SELECT kind, sum(landed) AS landed, sum(duplicates) AS duplicates,
           sum(dead_lettered) AS dead_lettered, max(updated_at) AS updated_at
    FROM ingest_counts GROUP BY kind
),
latest AS (
    SELECT 'transition' AS kind, max(occurred_at) AS last_event_at, max(landed_at) AS last_landed_at FROM transitions
    UNION ALL
    SELECT 'deploy', max(finished_at), max(landed_at) FROM deploys
    UNION ALL
    SELECT 'incident', max(occurred_at), max(landed_at) FROM incidents
)
SELECT k.kind,
       coalesce(c.landed, 0)::BIGINT + coalesce(c.duplicates, 0)::BIGINT
           + coalesce(c.dead_lettered, 0)::BIGINT AS received,
       coalesce(c.landed, 0)::BIGINT        AS landed,
       coalesce(c.duplicates, 0)::BIGINT    AS duplicates,
       coalesce(c.dead_lettered, 0)::BIGINT AS dead_lettered,
       l.last_event_at,
       l.last_landed_at
FROM kinds k
LEFT JOIN counts c USING (kind)
LEFT JOIN latest l USING (kind)
ORDER BY k.kind NOT IN ('deploy', 'incident', 'transition', 'unknown'), k.kind;
