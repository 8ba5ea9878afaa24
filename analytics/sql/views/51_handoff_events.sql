-- handoff_events: every handoff, between teams or between people, one row each.
-- Definition: level 'team': a transition whose team (as carried in state_visits: the last
--   one given) differs from the team before it, both known; level 'person': the same with
--   the assignee. A transition that changes both is one handoff of each level, so people and
--   teams are never mixed in one pair. wait_after_hours = from the handoff to the ticket's
--   next entry into an active or done state (0 when it lands in one; NULL while still
--   waiting). team / previous_team: the ticket's team at and before the handoff (equal for
--   most person handoffs). Over boards: count(*) and median(wait_after_hours) per pair.
-- Grain: one row per handoff and level.  Unit: hours.
-- The previous team and assignee and the next worked entry are derived into visits
-- (analytics/sql/derive/10_visits.sql), so this view only filters.
CREATE OR REPLACE VIEW handoff_events AS
SELECT board, ticket_id, ticket_type, 'team' AS level, previous_team AS from_party, team AS to_party,
       team, previous_team, entered_at AS handoff_at,
       epoch(worked_at - entered_at) / 3600.0 AS wait_after_hours
FROM visits
WHERE team <> previous_team
UNION ALL
SELECT board, ticket_id, ticket_type, 'person', previous_assignee, assignee,
       team, previous_team, entered_at,
       epoch(worked_at - entered_at) / 3600.0
FROM visits
WHERE assignee <> previous_assignee;
