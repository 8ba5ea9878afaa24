-- Re-derives the visits of the tickets listed in the temp table touched_tickets from
-- all their stored transitions (the caller deleted their old rows in the same transaction).
--
-- Order of a ticket's events: by event time; among events of the same instant, a
-- creation (from_state NULL) first, then an event whose to_state another same-instant
-- event leaves from, the states compared as mapped ('doing' and 'In Progress' are one
-- state when 'Doing' is an alias of In Progress), then event_id: arrival order never matters.
-- Mapping: the ticket's board (of its latest event: latest time, then highest event_id) when
-- the settings list it, else the defaults ('*'). A raw state the mapping does not know keeps
-- its name with category 'unmapped' (counted, never dropped).
-- Responsible party: the ticket's team, carried forward from the last event that gave one (an
-- event naming only an assignee does not take the ticket from its team); before any team is
-- given, the assignee, carried the same way. A handoff is an event whose party differs from
-- the party before it.
INSERT INTO visits
WITH raw AS (
    SELECT t.event_id, t.ticket_id, t.board, t.from_state, t.to_state, t.occurred_at,
           t.team, t.assignee, t.ticket_type
    FROM transitions t
    SEMI JOIN touched_tickets k ON t.ticket_id = k.ticket_id
),
boards AS (
    SELECT ticket_id, ticket_board,
           CASE WHEN ticket_board IN (SELECT board FROM workflow_states WHERE board <> '*')
                THEN ticket_board ELSE '*' END AS map_board
    FROM (SELECT ticket_id, arg_max(board, (occurred_at, event_id)) AS ticket_board FROM raw GROUP BY ticket_id)
),
ev AS (
    -- Each event's states as mapped (unmapped: the raw name, lower-cased, for comparing).
    SELECT r.*, b.ticket_board, b.map_board,
           coalesce(from_alias.state, lower(r.from_state)) AS from_key,
           coalesce(to_alias.state, lower(r.to_state)) AS to_key,
           to_alias.state AS to_mapped
    FROM raw r
    JOIN boards b USING (ticket_id)
    LEFT JOIN workflow_aliases from_alias ON from_alias.board = b.map_board AND from_alias.alias = lower(r.from_state)
    LEFT JOIN workflow_aliases to_alias ON to_alias.board = b.map_board AND to_alias.alias = lower(r.to_state)
),
followed AS (
    SELECT a.event_id, count(b.event_id) > 0 AS is_followed
    FROM ev a
    LEFT JOIN ev b
      ON b.ticket_id = a.ticket_id AND b.occurred_at = a.occurred_at
     AND b.event_id <> a.event_id AND b.from_key = a.to_key
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
           last_value(o.team IGNORE NULLS) OVER upto AS team_now,
           last_value(o.assignee IGNORE NULLS) OVER upto AS assignee_now,
           last_value(o.ticket_type IGNORE NULLS) OVER upto AS type_now,
           lead(o.occurred_at) OVER (PARTITION BY o.ticket_id ORDER BY o.seq) AS left_at
    FROM ordered o
    WINDOW upto AS (PARTITION BY o.ticket_id ORDER BY o.seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
judged AS (
    SELECT c.*,
           lag(coalesce(c.team_now, c.assignee_now)) OVER back AS prev_party,
           lag(c.team_now) OVER back AS prev_team,
           lag(c.assignee_now) OVER back AS prev_assignee
    FROM carried c
    WINDOW back AS (PARTITION BY c.ticket_id ORDER BY c.seq)
)
SELECT j.ticket_id,
       j.ticket_board,
       j.seq::INTEGER,
       j.event_id,
       j.to_state,
       coalesce(j.to_mapped, j.to_state),
       coalesce(s.category, 'unmapped'),
       s.position,
       j.occurred_at,
       j.left_at,
       j.team_now,
       j.assignee_now,
       j.type_now,
       coalesce(j.team_now, j.assignee_now),
       coalesce(coalesce(j.team_now, j.assignee_now) <> j.prev_party, false),
       CASE WHEN coalesce(j.team_now, j.assignee_now) <> j.prev_party THEN j.prev_party END,
       j.prev_team,
       j.prev_assignee,
       min(CASE WHEN s.category IN ('active', 'done') THEN j.occurred_at END)
           OVER (PARTITION BY j.ticket_id ORDER BY j.seq ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
FROM judged j
LEFT JOIN workflow_states s ON s.board = j.map_board AND s.state = j.to_mapped;
