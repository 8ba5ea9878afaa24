-- wip_now: work in progress right now, per board and state, against its limit.
-- Definition: tickets whose current state is a queue or active state. Tickets in a state
--   the mapping does not know are listed too, with category 'unmapped' (not WIP, not lost).
--   wip_limit/warn_at: the limit set for exactly that state (group, team and person
--   limits are evaluated by the alerts); over_limit = wip > wip_limit.
-- Grain: one row per board and state.  Unit: tickets.
CREATE OR REPLACE VIEW wip_now AS
WITH counts AS (
    SELECT board, state, count(*) AS wip FROM tickets
    WHERE category IN ('queue', 'active', 'unmapped') GROUP BY board, state
),
limits AS (
    SELECT board, states[1] AS state, min(wip_limit) AS wip_limit, min(warn_at) AS warn_at
    FROM wip_limits WHERE len(states) = 1 AND team IS NULL AND person IS NULL GROUP BY ALL
)
SELECT s.board, s.state, s.category, s.position, coalesce(c.wip, 0) AS wip,
       l.wip_limit, l.warn_at, coalesce(coalesce(c.wip, 0) > l.wip_limit, false) AS over_limit
FROM board_states s
LEFT JOIN counts c USING (board, state)
LEFT JOIN limits l USING (board, state)
WHERE s.category IN ('queue', 'active')
UNION ALL
SELECT t.board, t.state, 'unmapped', NULL, count(*), NULL, NULL, false
FROM tickets t WHERE t.category = 'unmapped' GROUP BY t.board, t.state;
