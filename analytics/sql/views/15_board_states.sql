-- board_states: the ordered states each board with tickets uses.
-- Definition: a board listed in the settings uses its own states, any other board the
--   defaults. The basis of WIP, CFD and limits; a state with no tickets still has a row.
-- Grain: one row per board and state.  Unit: position is the order in the flow, 0 first.
CREATE OR REPLACE VIEW board_states AS
WITH boards AS (
    SELECT DISTINCT board,
           CASE WHEN board IN (SELECT board FROM workflow_states WHERE board <> '*') THEN board ELSE '*' END
               AS map_board
    FROM tickets
)
SELECT b.board, s.state, s.category, s.position
FROM boards b JOIN workflow_states s ON s.board = b.map_board;
