-- aging_wip: open, committed tickets and how old they are against the board's history.
-- Definition: tickets now in a queue or active state; age = now - committed_at; band
--   compares the age with the board's cycle-time percentiles: 'within p50', 'p50-p85',
--   'p85-p95', 'beyond p95', or 'no history' when nothing on the board has finished.
-- Grain: one row per open ticket.  Unit: days.
CREATE OR REPLACE VIEW aging_wip AS
SELECT t.ticket_id, t.board, t.state, t.category, t.team, t.assignee, t.ticket_type,
       t.committed_at, t.entered_state_at,
       greatest(epoch(fm_now() - t.committed_at), 0) / 86400.0 AS age_days,
       greatest(epoch(fm_now() - t.entered_state_at), 0) / 86400.0 AS time_in_state_days,
       p.p50_days, p.p85_days, p.p95_days,
       CASE WHEN p.p50_days IS NULL THEN 'no history'
            WHEN epoch(fm_now() - t.committed_at) / 86400.0 <= p.p50_days THEN 'within p50'
            WHEN epoch(fm_now() - t.committed_at) / 86400.0 <= p.p85_days THEN 'p50-p85'
            WHEN epoch(fm_now() - t.committed_at) / 86400.0 <= p.p95_days THEN 'p85-p95'
            ELSE 'beyond p95' END AS band
FROM tickets t
LEFT JOIN cycle_time_percentiles p ON p.board = t.board AND p.team = '*' AND p.ticket_type = '*'
WHERE t.category IN ('queue', 'active') AND t.committed_at IS NOT NULL;
