-- alert_list: every alert episode as `flowmeter alerts` lists it, in the rule's own unit.
-- Definition: one alert_log row per episode; value and threshold in tickets (a WIP rule) or
--   in days in the state, to one decimal (aging: seconds / 86400); since_utc = started_at to
--   the minute; notices = how its notices fared, in words ('2 delivered 1 pending
--   (1 re-sent)': delivered, pending, undelivered counts and resends, each only when above 0).
--   kind and started_at are kept to filter and order on; open episodes: status <> 'resolved'.
--   seen and against: value and threshold as the table shows them, in words: whole tickets
--   ('22 tickets', '1 ticket'), or an age by the dashboard's one rule (days to one decimal from 1 day up,
--   hours to one decimal below: '1.5 d', '7.2 h'), from the exact seconds.
-- Grain: one row per alert episode.  Unit: tickets (wip) or days in state (aging).
CREATE OR REPLACE VIEW alert_list AS
SELECT level, board, limit_name AS "limit", coalesce(ticket_id, '') AS ticket,
       CASE WHEN kind = 'aging' THEN round(value / 86400, 1) ELSE value END AS value,
       CASE WHEN kind = 'aging' THEN round(threshold / 86400, 1) ELSE threshold END AS threshold,
       CASE WHEN kind = 'aging' THEN 'days in state' ELSE 'tickets' END AS unit,
       status, strftime(started_at, '%Y-%m-%d %H:%M') AS since_utc,
       concat_ws(' ', CASE WHEN delivered > 0 THEN delivered || ' delivered' END,
                      CASE WHEN pending > 0 THEN pending || ' pending' END,
                      CASE WHEN undelivered > 0 THEN undelivered || ' undelivered' END,
                      CASE WHEN resends > 0 THEN '(' || resends || ' re-sent)' END) AS notices,
       alert_id, kind, started_at,
       CASE WHEN kind <> 'aging' THEN CAST(value AS BIGINT) || CASE WHEN value = 1 THEN ' ticket' ELSE ' tickets' END
            WHEN value >= 86400 THEN printf('%.1f d', value / 86400)
            ELSE printf('%.1f h', value / 3600) END AS seen,
       CASE WHEN kind <> 'aging' THEN CAST(threshold AS BIGINT) || CASE WHEN threshold = 1 THEN ' ticket' ELSE ' tickets' END
            WHEN threshold >= 86400 THEN printf('%.1f d', threshold / 86400)
            ELSE printf('%.1f h', threshold / 3600) END AS against
FROM alert_log;
