-- incident_summary: one row per incident: its timeline, severity level and linked deploy.
-- Definition: incident_timeline (opened, acknowledged and resolved times, reopenings, time to
--   acknowledge and to restore, severity and its level) beside deploy_incidents' link: the
--   deploy and how it was linked ('caused_by', 'window' or 'none'). Both views define the
--   columns; this one only puts them side by side, for the pages and ad hoc queries.
--   deploy_incidents carries the timeline's columns, so it is read alone: one fold per query.
-- Grain: one row per incident_id.
-- Unit: hours (DOUBLE) for the durations; times UTC.
CREATE OR REPLACE VIEW incident_summary AS
SELECT t.incident_id,
       t.service,
       t.environment,
       t.severity,
       t.severity_level,
       t.title,
       t.url,
       t.status,
       t.opened_at,
       t.acknowledged_at,
       t.resolved_at,
       t.reopened,
       t.time_to_acknowledge_hours,
       t.time_to_restore_hours,
       t.is_production,
       t.caused_by,
       t.link,
       t.deploy_event_id,
       t.deploy_version,
       t.deployed_at
FROM deploy_incidents t;
