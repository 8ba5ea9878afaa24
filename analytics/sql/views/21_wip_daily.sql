-- wip_daily: work in progress at the end of each UTC day, per board and state.
-- Definition: tickets whose state at the end of the day (just before 00:00 UTC of the next
--   day) is that queue or active state. Days run from the board's first event to today
--   (today's figure is as of now). States with no tickets that day have wip 0.
--   Computed as a running sum: a visit covers the end of day d exactly when
--   day(entered_at) <= d < day(left_at), so wip(d) = entries up to d - exits up to d.
-- Grain: one row per board, state and day.  Unit: tickets.
CREATE OR REPLACE VIEW wip_daily AS
WITH days AS (
    SELECT board, unnest(generate_series(min(entered_at)::DATE, fm_now()::DATE, INTERVAL 1 DAY))::DATE AS day
    FROM visits GROUP BY board
),
moves AS (
    SELECT board, state, entered_at::DATE AS day, 1 AS delta FROM visits WHERE category IN ('queue', 'active')
    UNION ALL
    SELECT board, state, left_at::DATE, -1 FROM visits
    WHERE category IN ('queue', 'active') AND left_at IS NOT NULL
),
daily AS (SELECT board, state, day, sum(delta) AS delta FROM moves GROUP BY ALL)
SELECT s.board, s.state, d.day,
       sum(coalesce(m.delta, 0)) OVER (PARTITION BY s.board, s.state ORDER BY d.day)::BIGINT AS wip
FROM board_states s
JOIN days d USING (board)
LEFT JOIN daily m ON m.board = s.board AND m.state = s.state AND m.day = d.day
WHERE s.category IN ('queue', 'active');
