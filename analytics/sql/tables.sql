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

-- Input that broke the contract, with the reason and the original bytes.
CREATE TABLE IF NOT EXISTS dead_letters (
    src         VARCHAR   NOT NULL,
    kind        VARCHAR   NOT NULL,  -- transition | deploy | unknown
    reason      VARCHAR   NOT NULL,
    raw         BLOB,
    received_at TIMESTAMP NOT NULL
);

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
