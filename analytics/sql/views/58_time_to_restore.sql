-- time_to_restore: how long incidents took to resolve, per service, environment, severity level and week.
-- Definition: over resolved incidents (incident_timeline.resolved_at not NULL; open ones wait),
--   bucketed by the ISO week (Monday, UTC) of resolved_at: incidents = how many; median_hours
--   and p85_hours = the 50th and 85th percentiles of time_to_restore_hours (linear
--   interpolation, quantile_cont); mean_hours = their arithmetic MEAN, the classic MTTR, which
--   one long outage moves far more than the median. environment is lower-cased (Production and
--   production are one); NULL when the incidents named none. Over several weeks take the
--   percentiles over incident_timeline again: never average weekly medians.
-- Grain: one row per service, environment, severity_level and week with a resolved incident.
-- Unit: hours (DOUBLE); week is a DATE (its Monday, UTC).
CREATE OR REPLACE VIEW time_to_restore AS
SELECT service,
       fm_environment(environment)                           AS environment,
       severity_level,
       date_trunc('week', resolved_at)::DATE                 AS week,
       count(*)                                              AS incidents,
       quantile_cont(time_to_restore_hours, 0.5)             AS median_hours,
       quantile_cont(time_to_restore_hours, 0.85)            AS p85_hours,
       avg(time_to_restore_hours)                            AS mean_hours
FROM incident_timeline
WHERE resolved_at IS NOT NULL
GROUP BY ALL;
