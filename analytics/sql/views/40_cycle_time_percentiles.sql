-- cycle_time_percentiles: how long finished work takes, at the 50th/85th/95th percentile.
-- Definition: percentiles of cycle_time_days over finished tickets, with linear
--   interpolation (quantile_cont). team = '*' / ticket_type = '*' means all of them.
--   For a date range, take quantile_cont over ticket_flow with WHERE done_at BETWEEN ....
-- Grain: one row per board, team (or '*') and ticket_type (or '*').  Unit: days.
-- One quantile_cont over a list of fractions sorts each group once, not three times (the same values).
CREATE OR REPLACE VIEW cycle_time_percentiles AS
SELECT board, team, ticket_type, tickets, q[1] AS p50_days, q[2] AS p85_days, q[3] AS p95_days
FROM (
    SELECT board,
           CASE WHEN grouping(team) = 1 THEN '*' ELSE team END AS team,
           CASE WHEN grouping(ticket_type) = 1 THEN '*' ELSE ticket_type END AS ticket_type,
           count(*) AS tickets,
           quantile_cont(cycle_time_days, [0.50, 0.85, 0.95]) AS q
    FROM ticket_flow
    WHERE done_at IS NOT NULL AND cycle_time_days IS NOT NULL
    GROUP BY GROUPING SETS ((board), (board, team), (board, ticket_type), (board, team, ticket_type))
);
