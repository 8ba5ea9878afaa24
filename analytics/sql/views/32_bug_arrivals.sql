-- bug_arrivals: how many bugs arrive, per ISO week (weeks start on Monday, UTC), board and team.
-- Definition: bugs = tickets whose ticket_type is one of the [dora] bug_types (ticket_type_roles
--   with role 'bug', compared case-insensitively) and whose created_at (the ticket's first
--   landed transition) falls in the week. ticket_type and team are the ticket's latest ones
--   (tickets.ticket_type, tickets.team; team NULL when no event named one): a story retyped as
--   a bug counts, in the week it was created. Weeks without bugs have no row (count them as 0).
-- Grain: one row per board, team and week with at least one bug created.
-- Unit: tickets; week is a DATE (its Monday, UTC).
CREATE OR REPLACE VIEW bug_arrivals AS
SELECT board,
       team,
       date_trunc('week', created_at)::DATE AS week,
       count(*)                             AS bugs
FROM tickets
WHERE lower(ticket_type) IN (SELECT ticket_type FROM ticket_type_roles WHERE role = 'bug')
GROUP BY ALL;
