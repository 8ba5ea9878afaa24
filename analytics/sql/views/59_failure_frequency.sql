-- failure_frequency: how often each service fails: incidents opened per week and severity level.
-- Definition: incidents = incidents (incident_timeline) whose opened_at falls in the ISO week
--   (Monday, UTC); production_incidents = those in production (is_production: a production
--   environment, or none named); deploy_linked = those deploy_incidents links to a deploy (by
--   caused_by or by the window). Weeks without incidents have no row (count them as 0).
-- Grain: one row per service, severity_level and week with at least one incident opened.
-- Unit: incidents (counts); week is a DATE (its Monday, UTC).
CREATE OR REPLACE VIEW failure_frequency AS
SELECT t.service,
       t.severity_level,
       date_trunc('week', t.opened_at)::DATE              AS week,
       count(*)                                           AS incidents,
       count(*) FILTER (WHERE t.is_production)            AS production_incidents,
       count(*) FILTER (WHERE t.link <> 'none')           AS deploy_linked
FROM deploy_incidents t  -- carries incident_timeline's columns: one fold per query
GROUP BY ALL;
