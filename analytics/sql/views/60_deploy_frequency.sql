-- deploy_frequency: how often each service deploys to each environment, per UTC day.
-- Definition: deploys = deploys that finished (finished_at, the event's `at`) on that
--   UTC day, whatever their status; successful_deploys = those with status 'success'.
--   All environments are listed; is_production says whether the environment is one of
--   production_environments (compared case-insensitively). Days without any deploy
--   have no row (count them as 0). DORA deployment frequency is successful production
--   deploys per day: sum(successful_deploys) over a period / the period's days, with
--   WHERE is_production (dora_summary does this for the trailing 30 days).
-- Grain: one row per service, environment and UTC day with at least one deploy.
-- Unit: deploys (counts); day is a DATE in UTC.
CREATE OR REPLACE VIEW deploy_frequency AS
SELECT service,
       environment,
       CAST(finished_at AS DATE)                              AS day,
       count(*) FILTER (WHERE status = 'success')             AS successful_deploys,
       count(*)                                               AS deploys,
       lower(environment) IN (SELECT lower(environment) FROM production_environments) AS is_production
FROM deploys
GROUP BY service, environment, CAST(finished_at AS DATE);
