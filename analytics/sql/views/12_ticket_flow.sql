-- ticket_flow: each ticket's way through the workflow.
-- Definition: created_at = first event; committed_at = first entry into a queue, active or
--   done state; done_at = final entry into done (NULL while not done: a reopened ticket
--   counts again only when it is done again). cycle_time = committed_at -> done_at;
--   lead_time = created_at -> done_at. wait = time in queue states, active = time in
--   active states (for open tickets: so far, including the current visit);
--   flow_efficiency = active / (active + wait), finished tickets only.
--   handoffs = changes of responsible party; reopened = moves out of done.
-- Grain: one row per ticket.  Unit: *_days in days (exact durations), efficiency 0..1.
CREATE OR REPLACE VIEW ticket_flow AS
SELECT ticket_id, board, team, assignee, ticket_type, state, category,
       created_at, committed_at, done_at, done_at IS NOT NULL AS is_done,
       epoch(done_at - committed_at) / 86400.0 AS cycle_time_days,
       epoch(done_at - created_at) / 86400.0 AS lead_time_days,
       (wait_seconds + CASE WHEN done_at IS NULL AND category = 'queue'
                            THEN greatest(epoch(fm_now() - entered_state_at), 0) ELSE 0 END) / 86400.0 AS wait_days,
       (active_seconds + CASE WHEN done_at IS NULL AND category = 'active'
                              THEN greatest(epoch(fm_now() - entered_state_at), 0) ELSE 0 END) / 86400.0 AS active_days,
       CASE WHEN done_at IS NOT NULL AND wait_seconds + active_seconds > 0
            THEN active_seconds / (wait_seconds + active_seconds) END AS flow_efficiency,
       handoffs, reopened, transitions
FROM tickets;
