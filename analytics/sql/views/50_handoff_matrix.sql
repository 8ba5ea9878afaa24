-- handoff_matrix: who hands work to whom, and how long it then waits.
-- Definition: a handoff is a transition whose responsible party (the ticket's team, carried
--   forward from the last event that named one; before any team, the assignee) differs
--   from the previous one. wait after a handoff = from the handoff to the
--   ticket's next entry into an active or done state (0 when it lands in one); handoffs
--   still waiting are counted but not in the median.
-- Grain: one row per board, from_team and to_team.  Unit: handoffs; hours.
CREATE OR REPLACE VIEW handoff_matrix AS
WITH h AS (
    SELECT v.board, v.ticket_id, v.seq, v.from_party AS from_team, v.party AS to_team, v.entered_at
    FROM visits v WHERE v.handoff
),
waited AS (
    SELECT h.board, h.ticket_id, h.seq, h.from_team, h.to_team, h.entered_at,
           min(w.entered_at) AS worked_at
    FROM h
    LEFT JOIN visits w ON w.ticket_id = h.ticket_id AND w.seq >= h.seq AND w.category IN ('active', 'done')
    GROUP BY ALL
)
SELECT board, from_team, to_team, count(*) AS handoffs,
       median(epoch(worked_at - entered_at) / 3600.0) AS median_wait_after_hours
FROM waited
GROUP BY board, from_team, to_team;
