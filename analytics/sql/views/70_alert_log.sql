-- alert_log: every alert episode with how its notices fared.
-- Definition: one row of `alerts` plus, over its rows in `alert_deliveries`, how many notices
--   were delivered, are pending (being retried) or undelivered (retry budget spent), how many
--   attempts were re-sends that may have reached a receiver twice (resends; receivers dedupe
--   on the notice id), and the last delivery error of a notice not yet delivered;
--   minutes_open = (resolved_at, or now) - started_at.
-- Grain: one row per alert episode.  Unit: minutes, tickets (value of a WIP rule) or seconds (aging).
CREATE OR REPLACE VIEW alert_log AS
WITH d AS (
    SELECT alert_id,
           count(*) FILTER (WHERE status = 'delivered') AS delivered,
           count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'undelivered') AS undelivered,
           sum(coalesce(resends, 0)) AS resends,
           arg_max(last_error, coalesce(next_attempt_at, created_at)) FILTER (WHERE last_error IS NOT NULL) AS last_error
    FROM alert_deliveries GROUP BY alert_id
)
SELECT a.alert_id, a.kind, a.level, a.board, a.limit_name, a.states, a.team, a.person, a.ticket_id,
       a.threshold, a.wip_limit, a.value, a.peak_value, a.status, a.started_at, a.recovering_since,
       a.resolved_at, epoch(coalesce(a.resolved_at, fm_now()) - a.started_at) / 60.0 AS minutes_open,
       a.notified, coalesce(d.delivered, 0) AS delivered, coalesce(d.pending, 0) AS pending,
       coalesce(d.undelivered, 0) AS undelivered, coalesce(d.resends, 0)::INTEGER AS resends, d.last_error,
       a.tickets
FROM alerts a LEFT JOIN d USING (alert_id);
