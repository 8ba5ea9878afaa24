-- deploy_frequency: how often each service deploys to each environment, per UTC day.
-- Definition: deploys = deploys that finished (finished_at, the event's `at`) on that
--   UTC day, whatever their status; successful_deploys = those with status 'success'.
--   environment is the deploy's, normalised (fm_environment: lower-cased, trimmed), so
--   'Production' and 'production' are one environment. All environments are listed;
--   is_production says whether it is one of production_environments (also normalised). Days without any deploy
--   have no row (count them as 0). DORA deployment frequency is successful production
--   deploys per day: sum(successful_deploys) over a period / the period's days, with
--   WHERE is_production (dora_summary does this for the trailing 30 days).
-- Grain: one row per service, environment and UTC day with at least one deploy.
-- Unit: deploys (counts); day is a DATE in UTC.
CREATE OR REPLACE VIEW deploy_frequency AS
SELECT service,
       fm_environment(environment)                            AS environment,
       CAST(finished_at AS DATE)                              AS day,
       count(*) FILTER (WHERE status = 'success')             AS successful_deploys,
       count(*)                                               AS deploys,
       fm_is_production(fm_environment(environment))         AS is_production
FROM deploys
GROUP BY service, fm_environment(environment), CAST(finished_at AS DATE);
