-- wip_daily: work in progress at the end of each UTC day, per board and state.
-- Definition: tickets whose state at the end of the day (just before 00:00 UTC of the next
--   day) is that queue or active state. Days run from the board's first event to today
--   (today's figure is as of now). States with no tickets that day have wip 0.
-- Grain: one row per board, state and day.  Unit: tickets.
CREATE OR REPLACE VIEW wip_daily AS
WITH days AS (
    SELECT board, unnest(generate_series(min(entered_at)::DATE, fm_now()::DATE, INTERVAL 1 DAY))::DATE AS day
    FROM visits GROUP BY board
),
covering AS (
    SELECT d.board, v.state, d.day, count(*) AS wip
    FROM visits v
    JOIN days d ON d.board = v.board
     AND v.entered_at < d.day + INTERVAL 1 DAY
     AND (v.left_at IS NULL OR v.left_at >= d.day + INTERVAL 1 DAY)
    WHERE v.category IN ('queue', 'active')
    GROUP BY ALL
)
SELECT s.board, s.state, d.day, coalesce(c.wip, 0) AS wip
FROM board_states s
JOIN days d USING (board)
LEFT JOIN covering c ON c.board = s.board AND c.state = s.state AND c.day = d.day
WHERE s.category IN ('queue', 'active');
