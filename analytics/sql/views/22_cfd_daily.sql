-- cfd_daily: the cumulative flow diagram, per board, state and UTC day.
-- Definition: tickets whose state at the end of the day is that state or a later one in
--   the board's order. After a backward move a ticket counts by where it is (bands can
--   shrink); tickets in unmapped states are not counted.
-- Grain: one row per board, state and day.  Unit: tickets.
CREATE OR REPLACE VIEW cfd_daily AS
WITH days AS (
    SELECT board, unnest(generate_series(min(entered_at)::DATE, fm_now()::DATE, INTERVAL 1 DAY))::DATE AS day
    FROM visits GROUP BY board
),
at_day_end AS (
    SELECT d.board, d.day, v.position, count(*) AS tickets
    FROM visits v
    JOIN days d ON d.board = v.board
     AND v.entered_at < d.day + INTERVAL 1 DAY
     AND (v.left_at IS NULL OR v.left_at >= d.day + INTERVAL 1 DAY)
    WHERE v.position IS NOT NULL
    GROUP BY ALL
)
SELECT s.board, s.state, d.day, coalesce(sum(a.tickets), 0)::BIGINT AS tickets
FROM board_states s
JOIN days d USING (board)
LEFT JOIN at_day_end a ON a.board = s.board AND a.day = d.day AND a.position >= s.position
GROUP BY s.board, s.state, s.position, d.day;
