-- queue_wait_daily: how much waiting each queue state holds, per UTC day.
-- Definition: every visit to a queue state waits over [entered_at, left_at) (open visits: up
--   to now); wait_days is the part of those visits that falls within the UTC day, summed.
--   A day with N tickets waiting all day gives N days. team and ticket_type are those of the
--   visit (as in state_visits), so a plain WHERE filters them. Today's figure is as of now.
--   Days without waiting have no row (count them as 0). Over a period, sum(wait_days); a
--   state's wait is growing when the sum over the last 7 complete days beats the 7 before.
-- Grain: one row per board, state, team, ticket_type and UTC day with waiting.
-- Unit: wait_days in days (exact); visits = visits that waited during the day.
CREATE OR REPLACE VIEW queue_wait_daily AS
WITH q AS (
    SELECT board, state, team, ticket_type, entered_at, coalesce(left_at, fm_now()) AS until
    FROM visits
    WHERE category = 'queue' AND coalesce(left_at, fm_now()) > entered_at
),
per_day AS (
    -- the UTC days a visit touches: from its first to the day of its last instant
    SELECT board, state, team, ticket_type, entered_at, until,
           unnest(generate_series(entered_at::DATE, (until - INTERVAL 1 MICROSECOND)::DATE,
                                  INTERVAL 1 DAY))::DATE AS day
    FROM q
)
SELECT board, state, team, ticket_type, day,
       sum(epoch(least(until, day + INTERVAL 1 DAY) - greatest(entered_at, day::TIMESTAMP))) / 86400.0 AS wait_days,
       count(*) AS visits
FROM per_day
GROUP BY board, state, team, ticket_type, day;
