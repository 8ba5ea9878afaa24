-- failed_deployment_recovery: DORA's failed deployment recovery time, one row per production change failure.
-- Definition: two kinds of failure, each measured from the failing deploy to the restore:
--   cause 'deploy': a production failure episode of recovery_time (a failed or rolled-back
--     deploy, with the failures straight after it): failed_at = its first failed deploy,
--     restored_at = the next successful deploy of the service and environment.
--   cause 'incident': a successful production deploy that deploy_incidents links incidents to
--     (by caused_by or by the window): failed_at = the deploy's finished_at, restored_at = the
--     last resolved_at of those incidents, NULL while any of them is open. A failed deploy
--     that incidents link to is already a 'deploy' row and is not counted twice.
--   recovery_hours = failed_at -> restored_at (NULL while open). deploys = the deploys the row
--   is about: the failed ones plus the recovering one ('deploy'), or 1 ('incident').
--   DORA failed deployment recovery time = the median of recovery_hours (dora_summary: over the
--   rows restored in its window).
-- Grain: one row per production failure episode or incident-causing production deploy.
-- Unit: recovery_hours in hours (DOUBLE); times UTC.
CREATE OR REPLACE VIEW failed_deployment_recovery AS
SELECT service,
       environment,
       'deploy'                                      AS cause,
       failed_event_id,
       failed_at,
       recovered_at                                  AS restored_at,
       recovery_hours,
       failed_deploys + (recovered_at IS NOT NULL)::INTEGER AS deploys,
       CAST(NULL AS VARCHAR[])                       AS incident_ids
FROM recovery_time
WHERE is_production
UNION ALL
-- deploy_outcomes has the deploy's incidents and their restore: the incidents are folded once
-- (dora_summary selects these rows from deploy_outcomes itself, with the same WHERE).
SELECT service,
       environment,
       'incident',
       event_id,
       finished_at,
       incidents_restored_at,
       date_diff('microsecond', finished_at, incidents_restored_at) / 3600e6,
       1,
       incident_ids
FROM deploy_outcomes
WHERE is_production AND NOT deploy_failed AND incidents > 0;
