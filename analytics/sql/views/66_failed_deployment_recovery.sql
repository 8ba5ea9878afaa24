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
SELECT d.service,
       d.environment,
       'incident',
       d.event_id,
       d.finished_at,
       CASE WHEN bool_and(t.resolved_at IS NOT NULL) THEN max(t.resolved_at) END,
       date_diff('microsecond', d.finished_at,
                 CASE WHEN bool_and(t.resolved_at IS NOT NULL) THEN max(t.resolved_at) END) / 3600e6,
       1,
       list(t.incident_id ORDER BY t.incident_id)
FROM deploy_incidents l
JOIN deploys d ON d.event_id = l.deploy_event_id
JOIN incident_timeline t ON t.incident_id = l.incident_id
WHERE d.status NOT IN ('failure', 'rolled_back')
  AND fm_is_production(d.environment)
GROUP BY d.service, d.environment, d.event_id, d.finished_at;
