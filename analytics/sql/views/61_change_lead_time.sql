-- change_lead_time: how long each commit waited between being committed and running.
-- Definition: for each commit (sha) of a service and environment, lead_time_hours =
--   committed_at -> deployed_at, where deployed_at is the finish time of the FIRST
--   successful deploy of that service to that environment that carries the commit
--   (earliest finished_at; ties broken by event_id). A commit deployed again later
--   (a redeploy, a rollback forward) counts once, at its first success; failed and
--   rolled-back deploys never count. The same commit reaching staging and then
--   production gives one row per environment. environment is normalised
--   (fm_environment: lower-cased, trimmed): 'Production' and 'production' are one.
--   committed_at is a fact about the commit: the earliest non-null time any deploy
--   reports for the sha, whatever its status, environment or service (a time sent only
--   with a failed or a staging deploy counts); commits whose committed_at is never
--   given are left out, since they have no lead time. A negative lead time means
--   the sender's clocks disagree; it is kept, not hidden.
--   DORA change lead time is the median over production rows (WHERE is_production).
-- Grain: one row per service, environment and commit sha.
-- Unit: lead_time_hours in hours (DOUBLE); times UTC.
CREATE OR REPLACE VIEW change_lead_time AS
WITH reported AS (
    SELECT c.sha, min(c.committed_at) AS committed_at
    FROM (SELECT unnest(commits, recursive := true) FROM deploys) c
    WHERE c.committed_at IS NOT NULL
    GROUP BY c.sha
),
carried AS (
    SELECT service, fm_environment(environment) AS environment, event_id AS deploy_event_id,
           finished_at AS deployed_at, unnest(commits, recursive := true)
    FROM deploys
    WHERE status = 'success'
),
firsts AS (
    SELECT service, environment, sha, deployed_at, deploy_event_id
    FROM carried
    QUALIFY row_number() OVER (PARTITION BY service, environment, sha
                               ORDER BY deployed_at, deploy_event_id) = 1
)
SELECT f.service,
       f.environment,
       f.sha,
       r.committed_at,
       f.deployed_at,
       f.deploy_event_id,
       date_diff('microsecond', r.committed_at, f.deployed_at) / 3600e6 AS lead_time_hours,
       fm_is_production(f.environment) AS is_production
FROM firsts f
JOIN reported r USING (sha);
