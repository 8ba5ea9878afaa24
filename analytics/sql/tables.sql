-- Landed facts and ingest bookkeeping. Times are naive TIMESTAMPs in UTC.
-- The wire field `at` is stored as occurred_at / finished_at: AT is an SQL keyword.
-- `src` says where a row came from: 'topic[partition]@offset' or 'file:PATH:LINE'.

-- One row per distinct ticket transition (event contract v1).
CREATE TABLE IF NOT EXISTS transitions (
    event_id    VARCHAR   NOT NULL,
    ticket_id   VARCHAR   NOT NULL,
    board       VARCHAR   NOT NULL,
    from_state  VARCHAR,
    to_state    VARCHAR   NOT NULL,
    occurred_at TIMESTAMP NOT NULL,  -- the event's `at`
    assignee    VARCHAR,
    team        VARCHAR,
    ticket_type VARCHAR,
    actor       VARCHAR,
    source      VARCHAR,
    landed_at   TIMESTAMP NOT NULL,
    src         VARCHAR   NOT NULL
);

-- Added later (NULL in older rows and for sources that send none): what the source said of the
-- item beyond the contract (labels, priority, Flagged ...), compact JSON of at most 4 KiB.
ALTER TABLE transitions ADD COLUMN IF NOT EXISTS attributes JSON;

-- One row per distinct deploy (event contract v1).
CREATE TABLE IF NOT EXISTS deploys (
    event_id    VARCHAR   NOT NULL,
    service     VARCHAR   NOT NULL,
    environment VARCHAR   NOT NULL,
    status      VARCHAR   NOT NULL,
    finished_at TIMESTAMP NOT NULL,  -- the event's `at`
    started_at  TIMESTAMP,
    version     VARCHAR,
    commits     STRUCT(sha VARCHAR, committed_at TIMESTAMP)[],
    tickets     VARCHAR[],
    source      VARCHAR,
    landed_at   TIMESTAMP NOT NULL,
    src         VARCHAR   NOT NULL
);
-- Added later (stores made before get it, NULL in older rows): the incident_ids a deploy was made to fix.
ALTER TABLE deploys ADD COLUMN IF NOT EXISTS fixes VARCHAR[];

-- One row per distinct incident status change (event contract v1, kind incident): an incident
-- is the rows of one incident_id; the views build its timeline (opened, acknowledged, resolved).
CREATE TABLE IF NOT EXISTS incidents (
    event_id    VARCHAR   NOT NULL,
    incident_id VARCHAR   NOT NULL,
    service     VARCHAR   NOT NULL,
    status      VARCHAR   NOT NULL,  -- opened | acknowledged | resolved
    occurred_at TIMESTAMP NOT NULL,  -- the event's `at`
    environment VARCHAR,
    severity    VARCHAR,             -- as the source said it (settings map it to critical | high | low)
    title       VARCHAR,
    url         VARCHAR,
    caused_by   VARCHAR,             -- a deploy's event_id or version, when the source knows it
    source      VARCHAR,
    landed_at   TIMESTAMP NOT NULL,
    src         VARCHAR   NOT NULL
);

-- Input that broke the contract, with the reason and the original bytes.
CREATE TABLE IF NOT EXISTS dead_letters (
    src         VARCHAR   NOT NULL,
    kind        VARCHAR   NOT NULL,  -- transition | deploy | incident | unknown, or as another producer said
    reason      VARCHAR   NOT NULL,
    raw         BLOB,                -- the bytes: at most the first 1,000,000, or the copy another producer sent
    received_at TIMESTAMP NOT NULL
);
-- Added later: stores made before them get the columns (NULL in their older rows).
-- original_bytes: the message's size before any copy was cut. copy_of: the source a message on the
-- dead-letter topic says a worker rejected it at, when no dead letter recorded there matched it.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS original_bytes BIGINT;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS copy_of VARCHAR;

-- Per source partition: how far it has landed. log_id is the Kafka topic id: a
-- recreated topic, or a fresh embedded broker, starts a new log whose offsets
-- restart at 0, so positions of an older log must not skip its messages.
CREATE TABLE IF NOT EXISTS ingest_positions (
    source      VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    log_id      VARCHAR NOT NULL,
    last_offset BIGINT  NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (source, "partition", log_id)
);

-- What became of every input event, per source and kind: landed, a known
-- duplicate (its event_id was already stored), or dead-lettered.
-- source is a topic name or 'file:PATH'.
CREATE TABLE IF NOT EXISTS ingest_counts (
    source        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,  -- transition | deploy | unknown
    landed        BIGINT  NOT NULL,
    duplicates    BIGINT  NOT NULL,
    dead_lettered BIGINT  NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (source, kind)
);

-- ---- Workflow mapping: a copy of the settings file's boards, written by the store ----

-- Each board's states with their category and position in the flow; board '*' holds
-- the defaults used for boards the settings do not list.
CREATE TABLE IF NOT EXISTS workflow_states (
    board    VARCHAR NOT NULL,
    state    VARCHAR NOT NULL,
    category VARCHAR NOT NULL,  -- backlog | queue | active | done
    position INTEGER NOT NULL   -- order in the board's flow, 0 first
);

-- Raw status names (lower-cased) -> canonical state; each state's own name is one.
CREATE TABLE IF NOT EXISTS workflow_aliases (
    board VARCHAR NOT NULL,
    alias VARCHAR NOT NULL,
    state VARCHAR NOT NULL
);

-- The WIP limits from the settings: one state or a group, optionally for a team or a
-- person, with the alert routes.
CREATE TABLE IF NOT EXISTS wip_limits (
    board     VARCHAR   NOT NULL,
    name      VARCHAR   NOT NULL,
    states    VARCHAR[] NOT NULL,
    wip_limit INTEGER   NOT NULL,
    warn_at   INTEGER,
    team      VARCHAR,
    person    VARCHAR,
    routes    VARCHAR[]
);

-- Environments whose deploys count for the DORA keys.
CREATE TABLE IF NOT EXISTS production_environments (
    environment VARCHAR NOT NULL
);

-- ---- The [dora] stability settings, written by the store and read by the views at query time ----

-- How far back from an incident's opening a production deploy can be linked to it (one row).
CREATE TABLE IF NOT EXISTS incident_link_window (
    hours DOUBLE NOT NULL
);

-- Raw incident severities (lower-cased) -> level; a severity not listed, or NULL, is 'unmapped'.
CREATE TABLE IF NOT EXISTS severity_levels (
    severity VARCHAR NOT NULL,
    level    VARCHAR NOT NULL   -- critical | high | low
);

-- Ticket types (lower-cased) and what they mean: bug (bug_arrivals) or rework (deploy_outcomes).
CREATE TABLE IF NOT EXISTS ticket_type_roles (
    ticket_type VARCHAR NOT NULL,
    role        VARCHAR NOT NULL   -- bug | rework
);

-- Tickets whose events landed but whose derived rows are not re-derived yet: a backfill
-- (flowmeter load) derives them once at its end, a worker catching up at most every
-- derive_every seconds; after a crash, when the store is next opened for writing.
CREATE TABLE IF NOT EXISTS derive_backlog (
    ticket_id VARCHAR NOT NULL
);

-- Bookkeeping, e.g. the fingerprint of the workflow mapping the derived tables were made with.
CREATE TABLE IF NOT EXISTS flowmeter_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- ---- Derived from transitions + mapping; re-derived per ticket as batches land ----

-- One row per visit of a ticket to a state: [entered_at, left_at), left_at NULL while open.
CREATE TABLE IF NOT EXISTS visits (
    ticket_id   VARCHAR   NOT NULL,
    board       VARCHAR   NOT NULL,  -- the ticket's board (of its latest event)
    seq         INTEGER   NOT NULL,  -- 1, 2, ... in event-time order
    event_id    VARCHAR   NOT NULL,  -- the transition that began the visit
    raw_state   VARCHAR   NOT NULL,  -- to_state as sent
    state       VARCHAR   NOT NULL,  -- canonical name, or raw_state when unmapped
    category    VARCHAR   NOT NULL,  -- backlog | queue | active | done | unmapped
    position    INTEGER,             -- NULL when unmapped
    entered_at  TIMESTAMP NOT NULL,
    left_at     TIMESTAMP,
    team        VARCHAR,             -- as of this transition (last one given)
    assignee    VARCHAR,
    ticket_type VARCHAR,
    party       VARCHAR,             -- responsible party: the team (carried), else the assignee
    handoff     BOOLEAN   NOT NULL,  -- the party differs from the previous one
    from_party  VARCHAR              -- the previous party, when handoff
);
-- Derived here so that handoff_events is a filter, not three window passes over every visit
-- (1.5 s at 10M transitions before; benchmarks/RESULTS.md section 9). A store made before
-- these columns gains them here and is re-derived whole, as the derive SQL changed.
ALTER TABLE visits ADD COLUMN IF NOT EXISTS previous_team VARCHAR;      -- team of the visit before
ALTER TABLE visits ADD COLUMN IF NOT EXISTS previous_assignee VARCHAR;  -- assignee of the visit before
ALTER TABLE visits ADD COLUMN IF NOT EXISTS worked_at TIMESTAMP;        -- next entry (this one included) into an active or done state

-- One row per ticket: the facts its flow metrics are made of.
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id        VARCHAR   NOT NULL,
    board            VARCHAR   NOT NULL,
    team             VARCHAR,
    assignee         VARCHAR,
    ticket_type      VARCHAR,
    created_at       TIMESTAMP NOT NULL,  -- first transition
    committed_at     TIMESTAMP,           -- first entry into a queue, active or done state
    done_at          TIMESTAMP,           -- final entry into done, when it is done now
    state            VARCHAR   NOT NULL,  -- current
    category         VARCHAR   NOT NULL,
    position         INTEGER,
    entered_state_at TIMESTAMP NOT NULL,
    wait_seconds     DOUBLE    NOT NULL,  -- closed visits to queue states
    active_seconds   DOUBLE    NOT NULL,  -- closed visits to active states
    handoffs         INTEGER   NOT NULL,
    reopened         INTEGER   NOT NULL,  -- moves out of done
    transitions      INTEGER   NOT NULL
);

-- ---- Alerts: the two tables the store does not write itself ----
-- The alerting package writes them (alerting/evaluate.py: episodes and new outbox rows;
-- alerting/outbox.py: delivery outcomes) through Store.in_transaction, by column name, with
-- the types declared here (analytics/staging.py); this file is their only definition.

-- One row per alert episode: from the moment a rule is seen broken until it is seen kept
-- again for the cooldown. Rules: a WIP limit's breach (wip > limit) or warning
-- (wip >= warn_at) level, or one ticket aging in its state past that state's p85.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id         VARCHAR   PRIMARY KEY,
    rule             VARCHAR   NOT NULL,  -- stable key of the rule, e.g. 'wip|payments|Review + QA|||breach'
    kind             VARCHAR   NOT NULL,  -- wip | aging
    level            VARCHAR   NOT NULL,  -- breach | warning (wip); aging
    board            VARCHAR   NOT NULL,
    limit_name       VARCHAR   NOT NULL,  -- the WIP limit's name; aging: the state
    states           VARCHAR[] NOT NULL,  -- the states the rule watches
    team             VARCHAR,             -- the limit's team, when it has one
    person           VARCHAR,             -- the limit's person, when it has one
    ticket_id        VARCHAR,             -- aging: the ticket
    threshold        DOUBLE    NOT NULL,  -- wip: broken above (breach: limit) or at (warning: warn_at); aging: p85 seconds
    wip_limit        INTEGER,             -- wip: the limit
    value            DOUBLE    NOT NULL,  -- latest seen: WIP (tickets), or aging: seconds in the state
    peak_value       DOUBLE    NOT NULL,  -- highest seen during the episode
    tickets          JSON      NOT NULL,  -- when it fired: [{ticket_id, state, assignee, team, entered_state_at, age_hours}]
    status           VARCHAR   NOT NULL,  -- open | recovering (kept, cooldown running) | resolved
    started_at       TIMESTAMP NOT NULL,  -- when the evaluator first saw the rule broken (UTC)
    recovering_since TIMESTAMP,           -- when it was first seen kept again, while recovering
    resolved_at      TIMESTAMP,           -- when the recovery was declared
    notified         BOOLEAN   NOT NULL   -- a notice went to the routes when it opened
);

-- The outbox: one row per notice and route. Rows are written with their alert, in the
-- batch's transaction; the dispatcher delivers them with retries and backoff, at least once.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    delivery_id     VARCHAR   PRIMARY KEY,  -- '<notice id>:<route>'; receivers see the notice id (CloudEvent id)
    alert_id        VARCHAR   NOT NULL,
    notice          VARCHAR   NOT NULL,  -- fired | recovered
    route           VARCHAR   NOT NULL,  -- the route's name from the settings ([alerts.<name>]), or 'log'
    route_kind      VARCHAR   NOT NULL,  -- log | kafka | webhook | slack
    payload         JSON      NOT NULL,  -- the alert as sent (CloudEvents 1.0 envelope)
    status          VARCHAR   NOT NULL,  -- pending | delivered | undelivered (retry budget spent)
    attempts        INTEGER   NOT NULL,  -- attempts started, one whose outcome a crash lost included
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP,           -- pending: not before this
    delivered_at    TIMESTAMP,
    last_error      VARCHAR,             -- the last failed attempt, in one sentence; NULL once delivered
    resends         INTEGER   DEFAULT 0, -- attempts after one that may have reached the receiver (a timeout,
                                         -- a dropped connection, a crash before the outcome was stored)
    in_doubt        BOOLEAN   DEFAULT false -- the last attempt started may have arrived: the next is a resend
);
-- Stores made before these two columns get them here (at the end, where CREATE TABLE puts them too).
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS resends INTEGER DEFAULT 0;
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS in_doubt BOOLEAN DEFAULT false;

-- Each time a source partition's log was found not to be the log the stored position
-- belongs to: a new log (a recreated topic, a restarted embedded broker: its topic id
-- changed), a log truncated below the position, or one whose retention deleted events
-- before they landed (retention_gap: lost_offsets says how many). See docs/recovery.md.
CREATE TABLE IF NOT EXISTS log_resets (
    detected_at   TIMESTAMP NOT NULL,
    source        VARCHAR   NOT NULL,
    "partition"   INTEGER   NOT NULL,
    kind          VARCHAR   NOT NULL,  -- new_log | truncated | retention_gap
    old_log_id    VARCHAR   NOT NULL,
    new_log_id    VARCHAR   NOT NULL,
    stored_offset BIGINT    NOT NULL,  -- the last offset landed from the old log
    log_start     BIGINT,              -- the log's first offset when it was checked
    log_end       BIGINT,              -- the offset after its last message, when known
    lost_offsets  BIGINT    NOT NULL   -- retention_gap: offsets deleted before they landed
);

-- Per pull source and selection (`flowmeter sync --db`): from when its next pass asks for
-- changes. Moved only after a pass's events are committed, so a pass killed midway is asked
-- again whole, and event_id dedup lands each change once (docs/sources.md#pull-flowmeter-sync).
CREATE TABLE IF NOT EXISTS sync_cursors (
    cursor_key  VARCHAR   PRIMARY KEY,  -- source ':' first 16 hex of sha256(base URL '\n' selection)
    source      VARCHAR   NOT NULL,     -- jira (github, gitlab to come)
    url         VARCHAR   NOT NULL,     -- the base URL pulled from
    selection   VARCHAR   NOT NULL,     -- the JQL (repositories, projects to come)
    synced_from TIMESTAMP NOT NULL,     -- UTC start of the last complete pass; the next asks since then less sync_overlap
    passes      BIGINT    NOT NULL,     -- complete passes so far
    updated_at  TIMESTAMP NOT NULL
);
