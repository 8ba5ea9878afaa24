-- incident_timeline: one row per incident, its status changes folded into one timeline.
-- Definition: an incident is the incidents rows of one incident_id, taken in event order:
--   occurred_at, then opened < acknowledged < resolved at the same instant, then event_id
--   (arrival order never matters; a re-sent event_id landed once).
--   opened_at = the first 'opened' (the first event of any status when none says opened).
--   acknowledged_at = the first 'acknowledged' at or after opened_at that came while the
--     incident was open: one after a resolution with no reopening since does not count, so an
--     incident resolved before anyone acknowledged it has none.
--   resolved_at = the last 'resolved', only when the latest opened-or-resolved event is
--     'resolved' (an acknowledgement changes neither: one arriving after the resolution does
--     not reopen); NULL while open (a reopened incident is open until resolved again).
--   status = 'resolved' then, else 'open'.
--   reopened = 'opened' events whose latest earlier opened-or-resolved event is 'resolved'.
--   time_to_acknowledge_hours = opened_at -> acknowledged_at.
--   time_to_restore_hours = opened_at -> resolved_at: from the first opening to the final
--     resolution, the time between a resolution and a reopening included (the reopening says
--     the service was not restored after all).
--   service, environment, severity, title, url and caused_by are the latest non-null ones
--   (a severity raised while open counts as raised). severity_level = the [dora]
--   severity_levels level of lower(severity): critical | high | low, or 'unmapped' when the
--   severity is NULL or listed under no level. is_production: the environment is one of
--   production_environments (case-insensitive), or NULL (an incident naming no environment
--   is taken to be in production).
-- Grain: one row per incident_id.
-- Unit: hours (DOUBLE) for the durations; times UTC.
-- How (docs/metrics.md, "incident_timeline"): one window pass in event order gives each event its
-- position and the state just before it, then one aggregate folds the incident. An
-- acknowledgement counts when the latest earlier opened-or-resolved event is 'opened' (so it
-- came at or after the first opening, and while open); an incident with no 'opened' at all
-- opens with its first event, so there one with nothing opened-or-resolved before it counts.
CREATE OR REPLACE VIEW incident_timeline AS
WITH stated AS (
    SELECT *,
           row_number() OVER in_order AS pos,
           -- the incident's state just before this event: the latest earlier opened or resolved
           last_value(CASE WHEN status IN ('opened', 'resolved') THEN status END IGNORE NULLS)
               OVER (in_order ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS state_before
    FROM incidents
    WINDOW in_order AS (PARTITION BY incident_id
                        ORDER BY occurred_at,
                                 CASE status WHEN 'opened' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END,
                                 event_id)
),
folded AS (
    SELECT incident_id,
           arg_max(service, pos)                                                AS service,
           arg_max(environment, pos) FILTER (WHERE environment IS NOT NULL)      AS environment,
           arg_max(severity, pos) FILTER (WHERE severity IS NOT NULL)            AS severity,
           arg_max(title, pos) FILTER (WHERE title IS NOT NULL)                  AS title,
           arg_max(url, pos) FILTER (WHERE url IS NOT NULL)                      AS url,
           arg_max(caused_by, pos) FILTER (WHERE caused_by IS NOT NULL)          AS caused_by,
           -- an acknowledgement neither opens nor resolves: the latest opened or resolved decides
           arg_max(status, pos) FILTER (WHERE status IN ('opened', 'resolved'))  AS latest_status,
           coalesce(min(occurred_at) FILTER (WHERE status = 'opened'), min(occurred_at)) AS opened_at,
           CASE WHEN count(*) FILTER (WHERE status = 'opened') > 0
                THEN min(occurred_at) FILTER (WHERE status = 'acknowledged' AND state_before = 'opened')
                ELSE min(occurred_at) FILTER (WHERE status = 'acknowledged' AND state_before IS NULL)
           END                                                                  AS acknowledged_at,
           max(occurred_at) FILTER (WHERE status = 'resolved')                  AS last_resolved_at,
           count(*) FILTER (WHERE status = 'opened' AND state_before = 'resolved') AS reopened,
           count(*)                                                             AS events
    FROM stated
    GROUP BY incident_id
)
SELECT f.incident_id,
       f.service,
       f.environment,
       f.severity,
       coalesce(l.level, 'unmapped')                                           AS severity_level,
       f.title,
       f.url,
       f.caused_by,
       CASE WHEN f.latest_status = 'resolved' THEN 'resolved' ELSE 'open' END  AS status,
       f.opened_at,
       f.acknowledged_at,
       CASE WHEN f.latest_status = 'resolved' THEN f.last_resolved_at END      AS resolved_at,
       f.reopened,
       f.events,
       date_diff('microsecond', f.opened_at, f.acknowledged_at) / 3600e6       AS time_to_acknowledge_hours,
       date_diff('microsecond', f.opened_at,
                 CASE WHEN f.latest_status = 'resolved' THEN f.last_resolved_at END) / 3600e6 AS time_to_restore_hours,
       f.environment IS NULL
           OR fm_is_production(f.environment) AS is_production
FROM folded f
LEFT JOIN severity_levels l ON l.severity = lower(f.severity);
