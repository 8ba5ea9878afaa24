-- recovery_time: failed-deployment recovery time, one row per failure episode.
-- Definition: the deploys of one service to one environment are taken in order of
--   finished_at (ties broken by event_id). A failure episode begins at a deploy with
--   status 'failure' or 'rolled_back' that is the first deploy or follows a
--   successful one, and ends at the next successful deploy of the same service and
--   environment. Consecutive failures belong to one episode, measured from its first
--   failure: recovery_hours = failed_at -> recovered_at. failed_deploys counts the
--   failed deploys in the episode. An episode with no success yet is open:
--   recovered_at, recovered_event_id and recovery_hours are NULL.
--   environment is normalised (fm_environment: lower-cased, trimmed), so a 'production'
--   failure is recovered by a 'Production' success. is_production says whether it is one
--   of production_environments; the DORA key is the median over production episodes.
-- Grain: one row per service, environment and failure episode.
-- Unit: recovery_hours in hours (DOUBLE); times UTC.
CREATE OR REPLACE VIEW recovery_time AS
WITH ordered AS (
    SELECT service, fm_environment(environment) AS environment, event_id, finished_at,
           status IN ('failure', 'rolled_back') AS failed,
           row_number() OVER w AS pos,
           lag(status IN ('failure', 'rolled_back')) OVER w AS prev_failed
    FROM deploys
    WINDOW w AS (PARTITION BY service, fm_environment(environment) ORDER BY finished_at, event_id)
),
episodes AS (
    -- episode n = the n-th start of a failure run and the deploys that follow it up to
    -- the next start; rows before the first failure belong to episode 0 (none).
    SELECT *,
           sum(CASE WHEN failed AND NOT coalesce(prev_failed, false) THEN 1 ELSE 0 END)
               OVER (PARTITION BY service, environment ORDER BY pos ROWS UNBOUNDED PRECEDING) AS episode
    FROM ordered
),
runs AS (
    -- Within an episode the failures come first, then successes: the first success recovers.
    SELECT service, environment,
           min(finished_at)            FILTER (WHERE failed)     AS failed_at,
           min(finished_at)            FILTER (WHERE NOT failed) AS recovered_at,
           arg_min(event_id, pos)      FILTER (WHERE failed)     AS failed_event_id,
           arg_min(event_id, pos)      FILTER (WHERE NOT failed) AS recovered_event_id,
           count(*)                    FILTER (WHERE failed)     AS failed_deploys
    FROM episodes
    WHERE episode > 0
    GROUP BY service, environment, episode
)
SELECT service,
       environment,
       failed_at,
       recovered_at,
       date_diff('microsecond', failed_at, recovered_at) / 3600e6 AS recovery_hours,
       failed_event_id,
       recovered_event_id,
       failed_deploys,
       fm_is_production(environment) AS is_production
FROM runs;
