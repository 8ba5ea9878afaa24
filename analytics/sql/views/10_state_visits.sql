-- state_visits: every visit of a ticket to a state.
-- Definition: a visit starts when a transition enters the state and ends at the ticket's
--   next transition (left_at), or is open (left_at NULL, duration up to now). Re-entries
--   are separate visits; a transition to the same state (a reassignment) starts a new one.
--   Category is the board's mapping (backlog | queue | active | done | unmapped).
-- Grain: one row per visit (ticket_id, seq).  Unit: duration_days in days (exact, not calendar).
CREATE OR REPLACE VIEW state_visits AS
SELECT ticket_id, board, seq, state, category, position, raw_state,
       entered_at, left_at, left_at IS NULL AS is_open,
       greatest(epoch(coalesce(left_at, fm_now()) - entered_at), 0) / 86400.0 AS duration_days,
       team, assignee, ticket_type, party, handoff, from_party
FROM visits;
