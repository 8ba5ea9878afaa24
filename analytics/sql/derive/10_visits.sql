-- Re-derives the visits of the tickets listed in the temp table touched_tickets from
-- all their stored transitions (the caller deleted their old rows in the same transaction).
--
-- Order of a ticket's events: by event time; among events of the same instant, a
-- creation (from_state NULL) first, then an event whose to_state another same-instant
-- event leaves from, then event_id: arrival order never matters.
-- Mapping: a board listed in the settings uses its own states; any other board uses the
-- defaults ('*'). A raw state the mapping does not know keeps its name with category
-- 'unmapped' (counted, never dropped).
-- Responsible party: the event's team when given, else its assignee; a handoff is an event
-- whose party differs from the party before it (events with neither carry it forward).
INSERT INTO visits
WITH ev AS (
    SELECT t.event_id, t.ticket_id, t.board, t.from_state, t.to_state, t.occurred_at,
           t.team, t.assignee, t.ticket_type
    FROM transitions t
    SEMI JOIN touched_tickets k ON t.ticket_id = k.ticket_id
),
followed AS (
    SELECT a.event_id, count(b.event_id) > 0 AS is_followed
    FROM ev a
    LEFT JOIN ev b
      ON b.ticket_id = a.ticket_id AND b.occurred_at = a.occurred_at
     AND b.event_id <> a.event_id AND lower(b.from_state) = lower(a.to_state)
    GROUP BY a.event_id
),
ordered AS (
    SELECT ev.*,
           row_number() OVER (PARTITION BY ev.ticket_id
                              ORDER BY ev.occurred_at, ev.from_state IS NOT NULL, NOT f.is_followed, ev.event_id)
               AS seq
    FROM ev JOIN followed f USING (event_id)
),
carried AS (
    SELECT o.*,
           last_value(o.board) OVER whole AS ticket_board,
           last_value(o.team IGNORE NULLS) OVER upto AS team_now,
           last_value(o.assignee IGNORE NULLS) OVER upto AS assignee_now,
           last_value(o.ticket_type IGNORE NULLS) OVER upto AS type_now,
           last_value(coalesce(o.team, o.assignee) IGNORE NULLS) OVER upto AS party_now,
           lead(o.occurred_at) OVER (PARTITION BY o.ticket_id ORDER BY o.seq) AS left_at
    FROM ordered o
    WINDOW whole AS (PARTITION BY o.ticket_id ORDER BY o.seq
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
           upto AS (PARTITION BY o.ticket_id ORDER BY o.seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
judged AS (
    SELECT c.*,
           lag(c.party_now) OVER (PARTITION BY c.ticket_id ORDER BY c.seq) AS prev_party,
           CASE WHEN c.ticket_board IN (SELECT board FROM workflow_states WHERE board <> '*')
                THEN c.ticket_board ELSE '*' END AS map_board
    FROM carried c
)
SELECT j.ticket_id,
       j.ticket_board,
       j.seq::INTEGER,
       j.event_id,
       j.to_state,
       coalesce(a.state, j.to_state),
       coalesce(s.category, 'unmapped'),
       s.position,
       j.occurred_at,
       j.left_at,
       j.team_now,
       j.assignee_now,
       j.type_now,
       j.party_now,
       coalesce(coalesce(j.team, j.assignee) <> j.prev_party, false),
       CASE WHEN coalesce(j.team, j.assignee) <> j.prev_party THEN j.prev_party END
FROM judged j
LEFT JOIN workflow_aliases a ON a.board = j.map_board AND a.alias = lower(j.to_state)
LEFT JOIN workflow_states s ON s.board = j.map_board AND s.state = a.state;
