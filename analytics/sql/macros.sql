-- fm_now(): the current time as a naive UTC TIMESTAMP, like every stored time.
-- Every view that depends on "now" (open visits, ages, trailing windows) calls it, so a
-- session can pin it: CREATE OR REPLACE TEMP MACRO fm_now() AS TIMESTAMP '2025-03-10 12:00'.
CREATE OR REPLACE MACRO fm_now() AS (now() AT TIME ZONE 'UTC');
