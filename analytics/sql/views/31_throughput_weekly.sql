-- throughput_weekly: tickets finished per ISO week (weeks start on Monday, UTC).
-- Definition: the sum of throughput_daily over the week's days.
-- Grain: one row per board, team, ticket_type and week (its Monday).  Unit: tickets.
CREATE OR REPLACE VIEW throughput_weekly AS
SELECT board, team, ticket_type, date_trunc('week', day)::DATE AS week, sum(done)::BIGINT AS done
FROM throughput_daily
GROUP BY ALL;
