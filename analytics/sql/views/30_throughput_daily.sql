-- throughput_daily: tickets finished per UTC day.
-- Definition: tickets whose done_at (final entry into done) falls on that day; a ticket
--   reopened and finished again counts once, on its final day. Days without any finished
--   ticket have done = 0, from the board's first event to today, for every team and type
--   that has finished tickets on the board.
-- Grain: one row per board, team, ticket_type and day.  Unit: tickets.
CREATE OR REPLACE VIEW throughput_daily AS
WITH finished AS (
    SELECT board, team, ticket_type, done_at::DATE AS day FROM tickets WHERE done_at IS NOT NULL
),
days AS (
    SELECT board, unnest(generate_series(min(created_at)::DATE, fm_now()::DATE, INTERVAL 1 DAY))::DATE AS day
    FROM tickets GROUP BY board
),
combos AS (SELECT DISTINCT board, team, ticket_type FROM finished),
counts AS (SELECT board, team, ticket_type, day, count(*) AS done FROM finished GROUP BY ALL)
SELECT c.board, c.team, c.ticket_type, d.day, coalesce(n.done, 0) AS done
FROM combos c
JOIN days d USING (board)
LEFT JOIN counts n ON n.board = c.board AND n.team IS NOT DISTINCT FROM c.team
                  AND n.ticket_type IS NOT DISTINCT FROM c.ticket_type AND n.day = d.day;
