-- deploy_incidents: which deploy each incident is linked to, and how the link was made.
-- Definition: for each incident (incident_timeline), in this order:
--   link 'caused_by': the incident's caused_by names a deploy: first a deploy whose event_id
--     it is (any service), else a deploy of the incident's service whose version it is; of
--     several with that version, a production one first, then the latest finished at or
--     before opened_at, then the earliest after it (ties: event_id). Explicit beats the
--     window: a named deploy links however long before (or after) the opening it finished.
--   link 'window': otherwise, for an incident in production (incident_timeline.is_production),
--     the latest SUCCESSFUL deploy of the same service to a production environment
--     (production_environments, case-insensitive) that finished in
--     [opened_at - incident_link_window hours, opened_at], both ends included. Ties at one
--     instant: the highest event_id. Failed and rolled-back deploys are not what runs, so they
--     are never linked by the window. A caused_by that names no landed deploy falls back to
--     the window (and links by name once that deploy lands: the view is computed when read).
--   link 'none': neither.
--   hours_after_deploy = deployed_at -> opened_at (negative when a named deploy finished after).
--   The rest of incident_timeline's columns follow, as that view defines them, so that views
--   needing both (incident_summary, failure_frequency, failed_deployment_recovery) fold the
--   incidents once per query instead of once per view they read.
-- Grain: one row per incident (link 'none' included), so count(*) FILTER (WHERE link = ...)
--   says how incidents were linked.
-- Unit: hours_after_deploy in hours (DOUBLE); times UTC.
CREATE OR REPLACE VIEW deploy_incidents AS
WITH inc AS MATERIALIZED (  -- read five times below: folded once
    SELECT * FROM incident_timeline
),
by_event AS (
    SELECT i.incident_id, d.event_id
    FROM inc i
    JOIN deploys d ON d.event_id = i.caused_by
),
by_version AS (
    SELECT i.incident_id, d.event_id
    FROM inc i
    JOIN deploys d ON d.service = i.service AND d.version = i.caused_by
    QUALIFY row_number() OVER (
        PARTITION BY i.incident_id
        ORDER BY fm_is_production(d.environment) DESC,
                 d.finished_at <= i.opened_at DESC,
                 abs(date_diff('microsecond', d.finished_at, i.opened_at)),
                 d.event_id) = 1
),
candidates AS (
    -- successful production deploys, one per service and instant: the highest event_id
    SELECT service, finished_at, max(event_id) AS event_id
    FROM deploys
    WHERE status = 'success' AND fm_is_production(environment)
    GROUP BY service, finished_at
),
windowed AS (
    SELECT i.incident_id, c.event_id
    FROM inc i
    ASOF JOIN candidates c ON c.service = i.service AND c.finished_at <= i.opened_at
    WHERE i.is_production
      AND date_diff('microsecond', c.finished_at, i.opened_at) <= (SELECT max(hours) FROM incident_link_window) * 3600e6
),
linked AS (
    SELECT i.incident_id,
           coalesce(e.event_id, v.event_id, w.event_id) AS deploy_event_id,
           CASE WHEN coalesce(e.event_id, v.event_id) IS NOT NULL THEN 'caused_by'
                WHEN w.event_id IS NOT NULL THEN 'window'
                ELSE 'none' END AS link
    FROM inc i
    LEFT JOIN by_event e USING (incident_id)
    LEFT JOIN by_version v USING (incident_id)
    LEFT JOIN windowed w USING (incident_id)
)
SELECT i.incident_id,
       i.service,
       i.opened_at,
       i.caused_by,
       l.link,
       d.event_id                                                 AS deploy_event_id,
       d.service                                                  AS deploy_service,
       d.environment                                              AS deploy_environment,
       d.version                                                  AS deploy_version,
       d.status                                                   AS deploy_status,
       d.finished_at                                              AS deployed_at,
       date_diff('microsecond', d.finished_at, i.opened_at) / 3600e6 AS hours_after_deploy,
       i.environment,
       i.severity,
       i.severity_level,
       i.title,
       i.url,
       i.status,
       i.acknowledged_at,
       i.resolved_at,
       i.reopened,
       i.events,
       i.time_to_acknowledge_hours,
       i.time_to_restore_hours,
       i.is_production
FROM inc i
JOIN linked l USING (incident_id)
LEFT JOIN deploys d ON d.event_id = l.deploy_event_id;
