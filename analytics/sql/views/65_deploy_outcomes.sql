-- deploy_outcomes: one row per deploy: did it fail, cause an incident, or fix something (rework)?
-- Definition: deploy_failed = status 'failure' or 'rolled_back' (what change_failure_rate counts).
--   incidents = the incidents deploy_incidents links to the deploy (by caused_by or by the
--   window). change_failed = deploy_failed OR incidents > 0: DORA's change failure, a change
--   that needed remediation. rework = the deploy was made to fix a user-facing problem: its
--   `fixes` lists an incident, or every ticket it names whose type is known is of one of the
--   [dora] rework_types (ticket_type_roles role 'rework', case-insensitive; tickets with no
--   landed transitions have no type and are not counted either way; a deploy naming no typed
--   ticket is not rework by its tickets). A deploy that ships a bug fix beside planned stories
--   is planned work: not rework. is_production = the environment is one of
--   production_environments (case-insensitive). incident_ids = those incidents (sorted; NULL
--   when none); incidents_restored_at = the last resolved_at of those incidents, NULL while any
--   of them is open (failed_deployment_recovery measures an incident-causing deploy's recovery
--   from them, so dora_summary folds the incidents once for its rates and its recovery key).
--   DORA change failure rate = count(*) FILTER (WHERE change_failed) / count(*) over production
--   deploys of any status in a period; rework rate = count(*) FILTER (WHERE rework) / count(*)
--   over the same deploys (dora_summary does both for 30 days). Sum over the period, never
--   average daily rates.
-- Grain: one row per deploy (event_id), every environment.
-- Unit: booleans and counts; finished_at UTC.
CREATE OR REPLACE VIEW deploy_outcomes AS
WITH linked AS (
    SELECT deploy_event_id,
           count(*) AS incidents,
           list(incident_id ORDER BY incident_id) AS incident_ids,
           CASE WHEN bool_and(resolved_at IS NOT NULL) THEN max(resolved_at) END AS incidents_restored_at
    FROM deploy_incidents
    WHERE deploy_event_id IS NOT NULL
    GROUP BY deploy_event_id
),
listed AS (
    SELECT event_id, unnest(tickets) AS ticket_id FROM deploys
),
for_rework AS (
    -- every listed ticket whose type is known is of a rework type: a deploy that bundles a bug fix
    -- with planned stories is planned work, not rework
    SELECT l.event_id
    FROM listed l
    JOIN tickets t USING (ticket_id)
    LEFT JOIN ticket_type_roles r ON r.role = 'rework' AND r.ticket_type = lower(t.ticket_type)
    WHERE t.ticket_type IS NOT NULL
    GROUP BY l.event_id
    HAVING bool_and(r.ticket_type IS NOT NULL)
)
SELECT d.event_id,
       d.service,
       d.environment,
       d.status,
       d.finished_at,
       d.status IN ('failure', 'rolled_back')                          AS deploy_failed,
       coalesce(l.incidents, 0)                                        AS incidents,
       d.status IN ('failure', 'rolled_back') OR l.incidents IS NOT NULL AS change_failed,
       r.event_id IS NOT NULL OR coalesce(len(d.fixes), 0) > 0          AS rework,
       fm_is_production(d.environment) AS is_production,
       l.incident_ids,
       l.incidents_restored_at
FROM deploys d
LEFT JOIN linked l ON l.deploy_event_id = d.event_id
LEFT JOIN for_rework r ON r.event_id = d.event_id;
