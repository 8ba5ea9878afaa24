-- fm_now(): the current time as a naive UTC TIMESTAMP, like every stored time.
-- Every view that depends on "now" (open visits, ages, trailing windows) calls it, so a
-- session can pin it: CREATE OR REPLACE TEMP MACRO fm_now() AS TIMESTAMP '2025-03-10 12:00'.
CREATE OR REPLACE MACRO fm_now() AS (now() AT TIME ZONE 'UTC');
-- fm_environment(e): the one spelling of a deploy environment that the delivery views group,
-- compare and show: lower-cased, surrounding spaces removed, so 'Production', 'production'
-- and 'PRODUCTION ' are one environment, 'production' (docs/metrics.md, "Environments").
CREATE OR REPLACE MACRO fm_environment(e) AS lower(trim(e));
-- fm_is_production(e): the environment is one of production_environments (both normalised).
CREATE OR REPLACE MACRO fm_is_production(e) AS
    fm_environment(e) IN (SELECT fm_environment(environment) FROM production_environments);
