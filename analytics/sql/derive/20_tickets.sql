-- Re-derives the tickets listed in touched_tickets from their visits (derived just before).
--
-- created_at   = the first event.  committed_at = first entry into a queue, active or done state.
-- done_at      = the final entry into done (the start of the trailing run of done visits),
--                only while the ticket is done; a reopened ticket is not done until it is again.
-- wait/active  = summed closed visits to queue/active states (open ones are added at query time).
-- reopened     = moves from a done state to a state that is not done.
INSERT INTO tickets
WITH v AS (
    SELECT v.*,
           lag(v.category) OVER (PARTITION BY v.ticket_id ORDER BY v.seq) AS prev_category,
           max(CASE WHEN v.category <> 'done' THEN v.seq END) OVER (PARTITION BY v.ticket_id) AS last_undone_seq
    FROM visits v
    SEMI JOIN touched_tickets k ON v.ticket_id = k.ticket_id
)
SELECT ticket_id,
       arg_max(board, seq),
       arg_max(team, seq),
       arg_max(assignee, seq),
       arg_max(ticket_type, seq),
       min(entered_at),
       min(entered_at) FILTER (WHERE category IN ('queue', 'active', 'done')),
       CASE WHEN arg_max(category, seq) = 'done'
            THEN min(entered_at) FILTER (WHERE category = 'done' AND seq > coalesce(last_undone_seq, 0)) END,
       arg_max(state, seq),
       arg_max(category, seq),
       arg_max(position, seq),
       arg_max(entered_at, seq),
       coalesce(sum(epoch(left_at - entered_at)) FILTER (WHERE category = 'queue' AND left_at IS NOT NULL), 0),
       coalesce(sum(epoch(left_at - entered_at)) FILTER (WHERE category = 'active' AND left_at IS NOT NULL), 0),
       count(*) FILTER (WHERE handoff)::INTEGER,
       count(*) FILTER (WHERE prev_category = 'done' AND category <> 'done')::INTEGER,
       count(*)::INTEGER
FROM v
GROUP BY ticket_id, last_undone_seq;
