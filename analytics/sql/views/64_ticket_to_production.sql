-- ticket_to_production: how long a ticket took from commitment to running in production.
-- Definition: to_production_hours = committed_at -> deployed_at. committed_at is the
--   ticket's commitment (tickets.committed_at: its first entry into a queue, active or
--   done state, derived from its transitions). deployed_at is the finish time of the
--   FIRST successful deploy to a production environment (production_environments,
--   compared normalised: fm_environment) whose `tickets` list names the ticket, across all
--   services (earliest finished_at, ties broken by event_id); service, environment
--   (normalised, as in the other delivery views) and deploy_event_id are that deploy's. Failed and rolled-back deploys and deploys to
--   other environments never count; later deploys listing the ticket again do not
--   move it. Tickets never deployed to production, tickets with no landed transitions
--   and tickets never committed have no row. A negative value means the ticket was
--   listed on a deploy before it was committed; it is kept, not hidden.
-- Grain: one row per ticket that has reached production.
-- Unit: to_production_hours in hours (DOUBLE); times UTC.
CREATE OR REPLACE VIEW ticket_to_production AS
WITH listed AS (
    SELECT event_id AS deploy_event_id, service, fm_environment(environment) AS environment, finished_at AS deployed_at,
           unnest(tickets) AS ticket_id
    FROM deploys
    WHERE status = 'success'
      AND fm_is_production(environment)
),
firsts AS (
    SELECT *
    FROM listed
    QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY deployed_at, deploy_event_id) = 1
)
SELECT t.ticket_id,
       t.board,
       t.committed_at,
       f.deployed_at,
       f.service,
       f.environment,
       f.deploy_event_id,
       date_diff('microsecond', t.committed_at, f.deployed_at) / 3600e6 AS to_production_hours
FROM firsts f
JOIN tickets t ON t.ticket_id = f.ticket_id
WHERE t.committed_at IS NOT NULL;
