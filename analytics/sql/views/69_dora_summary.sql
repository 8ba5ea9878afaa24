-- dora_summary: the four DORA keys for production over the trailing 30 days, with bands.
-- Definition: the window is (fm_now() - 30 days, fm_now()]; only environments listed in
--   production_environments count (compared normalised: fm_environment).
--   deployment_frequency = successful production deploys finished in the window / days_covered,
--     the days the deploy data covers: from the first deploy of any environment to fm_now(),
--     at most the 30 days of the window and at least 1 (14 days of data divide by 14, not 30).
--     NULL (no data) only when no production deploy has ever finished by fm_now();
--     a system that did deploy before but not in the window scores 0 ('low').
--   change_lead_time = median (linear interpolation) of change_lead_time.lead_time_hours
--     over production commits whose first successful deploy finished in the window.
--   change_failure_rate = failed or rolled-back production deploys in the window /
--     all production deploys in the window (one ratio, not an average of daily rates).
--   failed_deployment_recovery_time = median of recovery_time.recovery_hours over
--     production failure episodes that recovered in the window (open ones wait).
--   Bands, after the performance clusters of the DORA Accelerate State of DevOps
--   Report 2023 (elite / high / medium / low), turned into thresholds:
--     deployment_frequency (per day): elite >= 1 (on demand, daily or more);
--       high >= 1/7 (between once per day and once per week); medium >= 1/30
--       (between once per week and once per month); low below that.
--     change_lead_time (hours): elite < 24 (under a day); high < 168 (under a week);
--       medium < 720 (under 30 days); low otherwise.
--     change_failure_rate: elite <= 0.05; high <= 0.10; medium <= 0.15; low otherwise.
--     failed_deployment_recovery_time (hours): elite < 1; high < 24; medium < 168;
--       low otherwise.
--   value and band are NULL when the window holds no data for that key.
--   deploys_considered: frequency = successful production deploys in the window;
--   lead time = the deploys that first shipped the measured commits; failure rate =
--   all production deploys in the window; recovery = the failed and recovering
--   deploys of the measured episodes. sample_size = what the value is over: deploys,
--   commits, deploys, episodes.
-- Grain: one row per DORA key (4 rows), for the window ending at fm_now().
-- Unit: per metric in `unit`: deploys per day, hours, ratio 0..1, hours; window_days and
--   days_covered in days (the same on every row).
CREATE OR REPLACE VIEW dora_summary AS
WITH win AS (
    SELECT fm_now() - INTERVAL 30 DAY AS window_start, fm_now() AS window_end, 30 AS window_days,
           least(30.0, greatest(1.0, coalesce(epoch(fm_now() - (SELECT min(finished_at) FROM deploys)) / 86400.0, 30.0)))
               AS days_covered
),
prod AS (
    SELECT d.status, d.finished_at
    FROM deploys d
    WHERE fm_is_production(d.environment)
),
freq AS (
    SELECT count(*) FILTER (WHERE p.finished_at > w.window_start AND p.status = 'success') AS n,
           count(*) > 0 AS known
    FROM prod p, win w
    WHERE p.finished_at <= w.window_end
),
cfr AS (
    SELECT count(*) AS n,
           count(*) FILTER (WHERE p.status IN ('failure', 'rolled_back')) AS failed
    FROM prod p, win w
    WHERE p.finished_at > w.window_start AND p.finished_at <= w.window_end
),
lead AS (
    SELECT quantile_cont(c.lead_time_hours, 0.5) AS median_hours,
           count(*) AS commits,
           count(DISTINCT c.deploy_event_id) AS deploys
    FROM change_lead_time c, win w
    WHERE c.is_production AND c.deployed_at > w.window_start AND c.deployed_at <= w.window_end
),
recovery AS (
    SELECT quantile_cont(r.recovery_hours, 0.5) AS median_hours,
           count(*) AS episodes,
           coalesce(sum(r.failed_deploys), 0) + count(*) AS deploys
    FROM recovery_time r, win w
    WHERE r.is_production AND r.recovered_at > w.window_start AND r.recovered_at <= w.window_end
),
keys AS (
    SELECT 1 AS ord, 'deployment_frequency' AS metric,
           CASE WHEN known THEN n / (SELECT days_covered FROM win) END AS value,
           'deploys per day' AS unit, n AS deploys_considered, n AS sample_size
    FROM freq
    UNION ALL
    SELECT 2, 'change_lead_time', median_hours, 'hours', deploys, commits FROM lead
    UNION ALL
    SELECT 3, 'change_failure_rate', CASE WHEN n > 0 THEN failed / n END, 'ratio', n, n FROM cfr
    UNION ALL
    SELECT 4, 'failed_deployment_recovery_time', median_hours, 'hours', deploys, episodes FROM recovery
)
SELECT metric,
       value::DOUBLE AS value,
       unit,
       CASE WHEN value IS NULL THEN NULL
            WHEN metric = 'deployment_frequency' THEN
                CASE WHEN value >= 1 THEN 'elite' WHEN value >= 1 / 7 THEN 'high'
                     WHEN value >= 1 / 30 THEN 'medium' ELSE 'low' END
            WHEN metric = 'change_lead_time' THEN
                CASE WHEN value < 24 THEN 'elite' WHEN value < 168 THEN 'high'
                     WHEN value < 720 THEN 'medium' ELSE 'low' END
            WHEN metric = 'change_failure_rate' THEN
                CASE WHEN value <= 0.05::DOUBLE THEN 'elite' WHEN value <= 0.10::DOUBLE THEN 'high'
                     WHEN value <= 0.15::DOUBLE THEN 'medium' ELSE 'low' END
            ELSE
                CASE WHEN value < 1 THEN 'elite' WHEN value < 24 THEN 'high'
                     WHEN value < 168 THEN 'medium' ELSE 'low' END
       END AS band,
       (SELECT window_days FROM win) AS window_days,
       deploys_considered,
       sample_size,
       (SELECT days_covered FROM win)::DOUBLE AS days_covered
FROM keys
ORDER BY ord;
