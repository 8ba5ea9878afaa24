-- dora_summary: DORA's five keys for production over the trailing 30 days, with bands, for all
--   services together (service '*') and for each service beside it.
-- Definition: the window is (fm_now() - 30 days, fm_now()]; only environments listed in
--   production_environments count (compared normalised: fm_environment). DORA advises measuring one
--   service at a time: each service's rows use only its deploys and incidents.
--   deployment_frequency = successful production deploys finished in the window / days_covered,
--     the days the deploy data covers: from the scope's first deploy of any environment to
--     fm_now(), at most the 30 days of the window and at least 1 (14 days of data divide by 14,
--     not 30). NULL (no data) only when the scope has never finished a production deploy by
--     fm_now(); one that did deploy before but not in the window scores 0 ('low').
--   change_lead_time = median (linear interpolation) of change_lead_time.lead_time_hours
--     over production commits whose first successful deploy finished in the window.
--   change_failure_rate (DORA's) = production deploys in the window that failed, were rolled
--     back, or are linked to an incident (deploy_outcomes.change_failed) / all production
--     deploys in the window (one ratio, not an average of daily rates).
--   failed_deployment_recovery_time = median of failed_deployment_recovery.recovery_hours
--     over the rows restored in the window (open ones wait): failure episodes and
--     incident-causing deploys.
--   rework_rate = production deploys in the window made to fix a user-facing problem
--     (deploy_outcomes.rework) / all production deploys in the window.
--   deploy_failure_rate = failed or rolled-back production deploys in the window / all
--     production deploys in the window: the deploy-status-only rate (before incidents), kept
--     to compare with change_failure_rate; it takes the same bands.
--   Bands, after the performance clusters of the DORA Accelerate State of DevOps
--   Report 2023 (elite / high / medium / low), turned into thresholds:
--     deployment_frequency (per day): elite >= 1 (on demand, daily or more);
--       high >= 1/7 (between once per day and once per week); medium >= 1/30
--       (between once per week and once per month); low below that.
--     change_lead_time (hours): elite < 24 (under a day); high < 168 (under a week);
--       medium < 720 (under 30 days); low otherwise.
--     change_failure_rate, deploy_failure_rate: elite <= 0.05; high <= 0.10; medium <= 0.15;
--       low otherwise.
--     failed_deployment_recovery_time (hours): elite < 1; high < 24; medium < 168;
--       low otherwise.
--     rework_rate: no band (NULL): the reports publish no cluster values for it.
--   value and band are NULL when the window holds no data for that key.
--   deploys_considered: frequency = successful production deploys in the window;
--   lead time = the deploys that first shipped the measured commits; failure, rework and
--   deploy failure rates = all production deploys in the window; recovery = the deploys of the
--   measured rows. sample_size = what the value is over: deploys, commits, deploys, failures
--   (rows of failed_deployment_recovery), deploys, deploys.
-- Grain: one row per key (6) and scope: service '*' (all services, always present) and each
--   service with a deploy; blended rows first.
-- Unit: per metric in `unit`: deploys per day, hours, ratio 0..1, hours, ratio 0..1,
--   ratio 0..1; window_days and days_covered in days (days_covered the same on a scope's rows).
CREATE OR REPLACE VIEW dora_summary AS
WITH win AS (
    SELECT fm_now() - INTERVAL 30 DAY AS window_start, fm_now() AS window_end, 30 AS window_days
),
scopes AS (
    -- '*' always (an empty store too: a grand total of no rows is one row), and each service
    SELECT coalesce(service, '*') AS service,
           least(30.0, greatest(1.0, coalesce(epoch(fm_now() - min(finished_at)) / 86400.0, 30.0))) AS days_covered
    FROM deploys
    GROUP BY GROUPING SETS ((service), ())
),
prod AS MATERIALIZED (  -- read three times: deploy_outcomes (and the incident links) once
    SELECT o.* FROM deploy_outcomes o WHERE o.is_production
),
freq AS (
    SELECT coalesce(p.service, '*') AS service,
           count(*) FILTER (WHERE p.finished_at > w.window_start AND p.status = 'success') AS n,
           count(*) > 0 AS known
    FROM prod p, win w
    WHERE p.finished_at <= w.window_end
    GROUP BY GROUPING SETS ((p.service), ())
),
rates AS MATERIALIZED (
    SELECT coalesce(p.service, '*') AS service,
           count(*) AS n,
           count(*) FILTER (WHERE p.change_failed) AS change_failed,
           count(*) FILTER (WHERE p.deploy_failed) AS deploy_failed,
           count(*) FILTER (WHERE p.rework) AS rework
    FROM prod p, win w
    WHERE p.finished_at > w.window_start AND p.finished_at <= w.window_end
    GROUP BY GROUPING SETS ((p.service), ())
),
lead AS (
    SELECT coalesce(c.service, '*') AS service,
           quantile_cont(c.lead_time_hours, 0.5) AS median_hours,
           count(*) AS commits,
           count(DISTINCT c.deploy_event_id) AS deploys
    FROM change_lead_time c, win w
    WHERE c.is_production AND c.deployed_at > w.window_start AND c.deployed_at <= w.window_end
    GROUP BY GROUPING SETS ((c.service), ())
),
recovered AS (
    -- failed_deployment_recovery's rows: its 'deploy' rows read from it, its 'incident' rows
    -- taken from prod with its WHERE, so that the incidents are folded once in this query
    -- (a test compares the two)
    SELECT service, restored_at, recovery_hours, deploys
    FROM failed_deployment_recovery
    WHERE cause = 'deploy'
    UNION ALL
    SELECT service, incidents_restored_at,
           date_diff('microsecond', finished_at, incidents_restored_at) / 3600e6, 1
    FROM prod
    WHERE NOT deploy_failed AND incidents > 0
),
recovery AS (
    SELECT coalesce(r.service, '*') AS service,
           quantile_cont(r.recovery_hours, 0.5) AS median_hours,
           count(*) AS failures,
           sum(r.deploys) AS deploys
    FROM recovered r, win w
    WHERE r.restored_at > w.window_start AND r.restored_at <= w.window_end
    GROUP BY GROUPING SETS ((r.service), ())
),
keys AS (
    SELECT s.service, 1 AS ord, 'deployment_frequency' AS metric,
           CASE WHEN f.known THEN f.n / s.days_covered END AS value,
           'deploys per day' AS unit, coalesce(f.n, 0) AS deploys_considered, coalesce(f.n, 0) AS sample_size
    FROM scopes s LEFT JOIN freq f USING (service)
    UNION ALL
    SELECT s.service, 2, 'change_lead_time', l.median_hours, 'hours', coalesce(l.deploys, 0), coalesce(l.commits, 0)
    FROM scopes s LEFT JOIN lead l USING (service)
    UNION ALL
    SELECT s.service, 3, 'change_failure_rate', CASE WHEN r.n > 0 THEN r.change_failed / r.n END, 'ratio',
           coalesce(r.n, 0), coalesce(r.n, 0)
    FROM scopes s LEFT JOIN rates r USING (service)
    UNION ALL
    SELECT s.service, 4, 'failed_deployment_recovery_time', v.median_hours, 'hours',
           coalesce(v.deploys, 0), coalesce(v.failures, 0)
    FROM scopes s LEFT JOIN recovery v USING (service)
    UNION ALL
    SELECT s.service, 5, 'rework_rate', CASE WHEN r.n > 0 THEN r.rework / r.n END, 'ratio',
           coalesce(r.n, 0), coalesce(r.n, 0)
    FROM scopes s LEFT JOIN rates r USING (service)
    UNION ALL
    SELECT s.service, 6, 'deploy_failure_rate', CASE WHEN r.n > 0 THEN r.deploy_failed / r.n END, 'ratio',
           coalesce(r.n, 0), coalesce(r.n, 0)
    FROM scopes s LEFT JOIN rates r USING (service)
)
SELECT k.metric,
       k.value::DOUBLE AS value,
       k.unit,
       CASE WHEN k.value IS NULL THEN NULL
            WHEN k.metric = 'deployment_frequency' THEN
                CASE WHEN k.value >= 1 THEN 'elite' WHEN k.value >= 1 / 7 THEN 'high'
                     WHEN k.value >= 1 / 30 THEN 'medium' ELSE 'low' END
            WHEN k.metric = 'change_lead_time' THEN
                CASE WHEN k.value < 24 THEN 'elite' WHEN k.value < 168 THEN 'high'
                     WHEN k.value < 720 THEN 'medium' ELSE 'low' END
            WHEN k.metric IN ('change_failure_rate', 'deploy_failure_rate') THEN
                CASE WHEN k.value <= 0.05::DOUBLE THEN 'elite' WHEN k.value <= 0.10::DOUBLE THEN 'high'
                     WHEN k.value <= 0.15::DOUBLE THEN 'medium' ELSE 'low' END
            WHEN k.metric = 'failed_deployment_recovery_time' THEN
                CASE WHEN k.value < 1 THEN 'elite' WHEN k.value < 24 THEN 'high'
                     WHEN k.value < 168 THEN 'medium' ELSE 'low' END
       END AS band,
       (SELECT window_days FROM win) AS window_days,
       k.deploys_considered,
       k.sample_size,
       s.days_covered::DOUBLE AS days_covered,
       k.service
FROM keys k
JOIN scopes s USING (service)
ORDER BY k.service <> '*', k.service, k.ord;
