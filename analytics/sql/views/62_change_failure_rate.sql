-- change_failure_rate: the share of deploys that failed, per UTC day.
-- Definition: deploys = deploys that finished (finished_at) that UTC day;
--   failed_deploys = those with status 'failure' or 'rolled_back';
--   change_failure_rate = failed_deploys / deploys. Over a longer period compute
--   sum(failed_deploys) / sum(deploys) over its rows; do NOT average the daily
--   rates (a day with 1 deploy would weigh as much as a day with 50).
--   environment is normalised (fm_environment: lower-cased, trimmed), so 'Production' and
--   'production' are one environment. All environments are listed; is_production says
--   whether it is one of production_environments; the DORA key uses production only.
-- Grain: one row per service, environment and UTC day with at least one deploy.
-- Unit: deploys (counts); change_failure_rate is a ratio 0..1 (DOUBLE); day is a UTC DATE.
CREATE OR REPLACE VIEW change_failure_rate AS
SELECT service,
       fm_environment(environment)                                  AS environment,
       CAST(finished_at AS DATE)                                    AS day,
       count(*)                                                     AS deploys,
       count(*) FILTER (WHERE status IN ('failure', 'rolled_back')) AS failed_deploys,
       count(*) FILTER (WHERE status IN ('failure', 'rolled_back')) / count(*) AS change_failure_rate,
       fm_is_production(fm_environment(environment))                AS is_production
FROM deploys
GROUP BY service, fm_environment(environment), CAST(finished_at AS DATE);
