-- cfd_daily: the cumulative flow diagram, per board, state and UTC day.
-- Definition: tickets whose state at the end of the day is that state or a later one in
--   the board's order. After a backward move a ticket counts by where it is (bands can
--   shrink); tickets in unmapped states are not counted.
--   Computed as running sums: per position, entries minus exits up to the day (as in
--   wip_daily), then summed over the positions at or after the state's.
-- Grain: one row per board, state and day.  Unit: tickets.
CREATE OR REPLACE VIEW cfd_daily AS
WITH days AS (
    SELECT board, unnest(generate_series(min(entered_at)::DATE, fm_now()::DATE, INTERVAL 1 DAY))::DATE AS day
    FROM visits GROUP BY board
),
moves AS (
    SELECT board, position, entered_at::DATE AS day, 1 AS delta FROM visits WHERE position IS NOT NULL
    UNION ALL
    SELECT board, position, left_at::DATE, -1 FROM visits WHERE position IS NOT NULL AND left_at IS NOT NULL
),
daily AS (SELECT board, position, day, sum(delta) AS delta FROM moves GROUP BY ALL),
at_position AS (
    SELECT s.board, s.state, s.position, d.day,
           sum(coalesce(m.delta, 0)) OVER (PARTITION BY s.board, s.position ORDER BY d.day) AS here
    FROM board_states s
    JOIN days d USING (board)
    LEFT JOIN daily m ON m.board = s.board AND m.position = s.position AND m.day = d.day
)
SELECT board, state, day,
       sum(here) OVER (PARTITION BY board, day ORDER BY position DESC)::BIGINT AS tickets
FROM at_position;
