-- ticket_current: where every ticket is now.
-- Definition: the state of the ticket's latest transition (event time, not arrival), its
--   category, and the latest team, assignee and type given; age counts from the first event.
-- Grain: one row per ticket.  Unit: age_days and time_in_state_days in days (exact).
CREATE OR REPLACE VIEW ticket_current AS
SELECT ticket_id, board, state, category, position, team, assignee, ticket_type,
       created_at, committed_at, entered_state_at,
       greatest(epoch(fm_now() - created_at), 0) / 86400.0 AS age_days,
       greatest(epoch(fm_now() - entered_state_at), 0) / 86400.0 AS time_in_state_days
FROM tickets;
