-- ticket_teams: every team that worked on each ticket, for throughput "by any team that worked on it".
-- Definition: a team worked on a ticket when at least one of the ticket's state visits carried
--   it (state_visits.team, the team named by the event, or carried from an earlier one);
--   latest_team = the team is the ticket's latest (ticket_flow.team): for a finished ticket,
--   the team that finished it, the one it counts for by default. board, ticket_type, state, category
--   and done_at are the ticket's, as in ticket_flow; first_at is when the team first held it.
--   Visits without a team (an assignee only) give no row.
-- Grain: one row per ticket and team.  Unit: visits (counts); times in UTC.
CREATE OR REPLACE VIEW ticket_teams AS
SELECT v.ticket_id, t.board, v.team, t.ticket_type, t.state, t.category, t.done_at,
       v.team IS NOT DISTINCT FROM t.team AS latest_team, min(v.entered_at) AS first_at, count(*) AS visits
FROM visits v
JOIN tickets t USING (ticket_id)
WHERE v.team IS NOT NULL
GROUP BY v.ticket_id, t.board, v.team, t.ticket_type, t.state, t.category, t.done_at, t.team;
