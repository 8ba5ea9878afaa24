"""The DuckDB store: it owns the file, its schema (sql/tables.sql, sql/views/) and its one
writer connection.

Who writes what: this module writes every table except two. The alerting package writes
``alerts`` and ``alert_deliveries`` (its episodes and its outbox), only through
``in_transaction`` on this writer connection, with rows typed by those tables' DDL here
(analytics.staging); it declares no table or column of its own.

One Store per process. Writes (``commit``) come from one thread at a time;
reads take their own cursor (``read``), so they may run on other threads while
a batch is being written. Each batch is one transaction that also records the
source offsets it covers, so a crash at any point leaves either the whole batch
with its offsets or neither.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import operator
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from analytics.lock import lock_holder
from analytics.query import read_only_transaction
from flowcore import deadletter
from flowcore.batch import Envelope, PreparedBatch
from flowcore.errors import StoreDamaged, StoreError, StoreFull, StoreLocked
from flowcore.failpoints import Failpoints
from flowcore.stability import Stability
from flowcore.workflow import Workflow

log = logging.getLogger(__name__)
T = TypeVar("T")

# Event attribute -> column; the wire's `at` is an SQL keyword, so it is stored by meaning.
_TRANSITION_COLUMNS = {
    "event_id": "event_id",
    "ticket_id": "ticket_id",
    "board": "board",
    "from_state": "from_state",
    "to_state": "to_state",
    "at": "occurred_at",
    "assignee": "assignee",
    "team": "team",
    "ticket_type": "ticket_type",
    "actor": "actor",
    "source": "source",
}
_TRANSITION_FIELDS = operator.attrgetter(*_TRANSITION_COLUMNS)
_DEPLOY_COLUMNS = {
    "event_id": "event_id",
    "service": "service",
    "environment": "environment",
    "status": "status",
    "at": "finished_at",
    "started_at": "started_at",
    "version": "version",
    "source": "source",
}
_INCIDENT_COLUMNS = {
    "event_id": "event_id",
    "incident_id": "incident_id",
    "service": "service",
    "status": "status",
    "at": "occurred_at",
    "environment": "environment",
    "severity": "severity",
    "title": "title",
    "url": "url",
    "caused_by": "caused_by",
    "source": "source",
}
_COMMITS_TYPE = pa.list_(pa.struct([("sha", pa.string()), ("committed_at", pa.timestamp("us"))]))


@dataclass(frozen=True)
class BatchTimes:
    """When the last batch with transitions committed, and its oldest event's time: lets the
    alert schedule tell history being replayed from fresh events (see alerting.schedule)."""

    landed_monotonic: float
    oldest_event_at: datetime  # naive UTC


@dataclass(frozen=True)
class LogReset:
    """A partition's log is not the one its stored position belongs to (see Store.use_logs)."""

    source: str
    partition: int
    kind: str  # new_log | truncated | retention_gap
    old_log_id: str
    new_log_id: str
    stored_offset: int
    log_start: int | None = None
    log_end: int | None = None
    lost_offsets: int = 0

    def describe(self) -> str:
        where = f"{self.source}[{self.partition}]"
        if self.kind == "new_log":
            return (
                f"{where} is a new log (topic id {self.new_log_id or '?'}, was {self.old_log_id or '?'}): "
                f"its offsets restart, so messages up to {self.stored_offset} are new events, landed now"
            )
        if self.kind == "truncated":
            return (
                f"{where} ends at offset {self.log_end}, below the {self.stored_offset} already landed: "
                f"the log was truncated; messages from {self.log_end} on are landed as new"
            )
        return (
            f"{where} starts at offset {self.log_start}, past the {self.stored_offset} already landed: "
            f"retention deleted {self.lost_offsets} messages before they landed; they cannot be recovered "
            "from this topic"
        )


@dataclass(frozen=True)
class LandResult:
    landed: int
    duplicates: int
    dead_lettered: int
    own_copies: int = 0  # the worker's own dead letters read back from the topic (not counted again)

    def __add__(self, other: LandResult) -> LandResult:
        return LandResult(
            self.landed + other.landed,
            self.duplicates + other.duplicates,
            self.dead_lettered + other.dead_lettered,
            self.own_copies + other.own_copies,
        )


class Store:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, failpoints: Failpoints | None = None) -> None:
        self._con = con
        self.path = path
        self._failpoints = failpoints or Failpoints()
        self._cursor_lock = threading.Lock()
        self._readers: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()  # open reader cursors
        self.readers_stopped = False  # set by interrupt_readers: ad hoc queries no longer start
        self._log_ids: dict[str, str] = {}
        self._positions: dict[tuple[str, int], int] = {}
        # Positions of logs found reset in this process: offsets up to them are new events.
        self._stale: dict[tuple[str, int], int] = {}
        self.log_resets = 0  # rows in log_resets (every reset ever found in this store)
        self.after_reset = 0  # messages at or below a stale position landed in this process
        self.last_transitions_batch: BatchTimes | None = None
        # True while derive_backlog holds tickets whose derived rows are behind their events.
        self.backlog_pending = False

    # ---- opening -------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        failpoints: Failpoints | None = None,
        workflow: Workflow | None = None,
    ) -> Store:
        """Open (creating when needed) the store. A writer given a workflow syncs the mapping,
        re-deriving every metric when it changed; without one it keeps the stored mapping
        (a new store gets the built-in defaults)."""
        path = Path(path)
        if read_only and not path.exists():
            raise StoreError(f"no store at {path}; land some events first (flowmeter worker or flowmeter load).")
        existed = path.exists()
        con = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if failpoints is not None and failpoints.should_fail("store.open"):
                raise duckdb.IOException(
                    f'injected: Could not write file "{path}": No space left on device (failpoint store.open)'
                )
            con = duckdb.connect(str(path), read_only=read_only)
            store = cls(con, path, failpoints)
            if not read_only:
                if existed:
                    store._check_integrity()
                store._prepare_for_writing(workflow)
            return store
        except (duckdb.Error, OSError) as exc:
            if con is not None:
                _close_quietly(con)
            raise _explain_open_error(path, exc) from None

    def _prepare_for_writing(self, workflow: Workflow | None) -> None:
        self._apply_schema()
        if workflow is not None or self._stored_fingerprint() is None:
            self.sync_workflow(workflow or Workflow())
        else:
            if self._stored_derivation() != self._derivation:
                self._rederive_with_stored_mapping()
            if not self._con.execute("SELECT count(*) FROM incident_link_window").fetchall()[0][0]:
                # A store made before the stability settings, opened without a workflow: their defaults.
                self.in_transaction(_write_stability, Workflow().stability)
        backlog = self._con.execute("SELECT count(DISTINCT ticket_id) FROM derive_backlog").fetchall()[0][0]
        if backlog:  # a backfill stopped before deriving what it landed
            log.info("deriving %d tickets an interrupted backfill landed", backlog)
            self.derive_backlog()

    def _check_integrity(self) -> None:
        """Read every block of every table, so DuckDB verifies each block's checksum.

        Counting rows reads only metadata and passes on a file truncated to half; a damaged
        block then fails the first write that reads it, and the worker would crash-loop.
        Hashing every column reads every block: about 0.7 s per 3 million rows (40 MB) here."""
        tables = self._con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()"
            " WHERE NOT temporary AND database_name = current_database()"
        ).fetchall()
        for schema, table in tables:
            self._con.execute(f'SELECT bit_xor(hash(COLUMNS(*))) FROM "{schema}"."{table}"').fetchall()

    def restore(self, snapshot: Path) -> dict[str, int]:
        """Fill this (new, empty) store with every table a snapshot holds, in one transaction.

        A snapshot's tables lack the keys the write path's upserts need, so it is never used
        as the store itself: its rows are copied into a store built from the schema."""
        self._con.execute("ATTACH ? AS snapshot (READ_ONLY)", [str(snapshot)])
        try:
            theirs = {
                r[0]
                for r in self._con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'snapshot'"
                ).fetchall()
            }
            ours = [
                r[0]
                for r in self._con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary"
                ).fetchall()
            ]

            def work(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
                copied = {}
                for table in sorted(theirs.intersection(ours)):
                    con.execute(f'DELETE FROM "{table}"')
                    con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM snapshot."{table}"')
                    copied[table] = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
                return copied

            return self.in_transaction(work)
        finally:
            self._con.execute("DETACH snapshot")

    def close(self) -> None:
        self.interrupt_readers()
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _apply_schema(self) -> None:
        sql_dir = resources.files("analytics") / "sql"
        self._con.execute((sql_dir / "tables.sql").read_text())
        self._con.execute((sql_dir / "macros.sql").read_text())
        views = sorted((p for p in (sql_dir / "views").iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
        for view in views:
            self._con.execute(view.read_text())
        derive_dir = sql_dir / "derive"
        self._derive_sql = [
            p.read_text()
            for p in sorted((p for p in derive_dir.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
        ]
        # What the derived rows are computed by: a store derived by other SQL (an older
        # flowmeter) is re-derived whole when it is next opened for writing.
        self._derivation = hashlib.sha256("\0".join(self._derive_sql).encode()).hexdigest()
        self._con.execute("CREATE TEMP TABLE IF NOT EXISTS touched_tickets (ticket_id VARCHAR)")

    # ---- workflow mapping and derived tables ---------------------------------
    def sync_workflow(self, workflow: Workflow, force: bool = False) -> int | None:
        """Store the mapping; when it, or the SQL that derives from it, changed (or force),
        re-derive every ticket.

        Returns how many tickets were re-derived, or None when nothing changed."""
        changed = (
            force
            or self._stored_fingerprint() != workflow.fingerprint()
            or self._stored_derivation() != self._derivation
        )
        con = self._con
        con.begin()
        try:
            # Limits and routes do not change derived rows: always refreshed, never a re-derive.
            con.execute("DELETE FROM wip_limits")
            for limit in workflow.wip_limits:
                con.execute(
                    "INSERT INTO wip_limits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        limit.board,
                        limit.name or " + ".join(limit.states),
                        list(limit.states),
                        limit.limit,
                        limit.warn_at,
                        limit.team,
                        limit.person,
                        list(limit.routes),
                    ],
                )
            _write_stability(con, workflow.stability)
            rederived = None
            if changed:
                con.execute("DELETE FROM workflow_states")
                con.executemany("INSERT INTO workflow_states VALUES (?, ?, ?, ?)", workflow.state_rows())
                con.execute("DELETE FROM workflow_aliases")
                con.executemany("INSERT INTO workflow_aliases VALUES (?, ?, ?)", workflow.alias_rows())
                con.execute("DELETE FROM production_environments")
                con.executemany(
                    "INSERT INTO production_environments VALUES (?)",
                    [[e.lower()] for e in workflow.production_environments],
                )
                con.execute(
                    "INSERT OR REPLACE INTO flowmeter_meta VALUES ('workflow_fingerprint', ?)", [workflow.fingerprint()]
                )
                rederived = self._rederive_all()
            con.commit()
        except BaseException:
            _rollback_quietly(con)
            raise
        if rederived:
            log.info("workflow mapping or derivation changed: re-derived %d tickets from the stored events", rederived)
        return rederived

    def _rederive_with_stored_mapping(self) -> None:
        """Re-derive every ticket with the mapping already stored (the derive SQL changed)."""
        rederived = self.in_transaction(lambda _con: self._rederive_all())
        log.info("this flowmeter derives metrics differently: re-derived %d tickets from the stored events", rederived)

    def _rederive_all(self) -> int:
        """Re-derive every ticket and record which SQL did it (inside the caller's transaction)."""
        con = self._con
        con.execute("INSERT OR REPLACE INTO flowmeter_meta VALUES ('derivation', ?)", [self._derivation])
        con.execute("DELETE FROM touched_tickets")
        con.execute("INSERT INTO touched_tickets SELECT DISTINCT ticket_id FROM transitions")
        return self._rederive_touched()

    def _stored_fingerprint(self) -> str | None:
        rows = self._con.execute("SELECT value FROM flowmeter_meta WHERE key = 'workflow_fingerprint'").fetchall()
        return rows[0][0] if rows else None

    def _stored_derivation(self) -> str | None:
        rows = self._con.execute("SELECT value FROM flowmeter_meta WHERE key = 'derivation'").fetchall()
        return rows[0][0] if rows else None

    def _rederive_touched(self) -> int:
        """Replace the derived rows of the tickets in touched_tickets (inside the caller's transaction)."""
        con = self._con
        touched = con.execute("SELECT count(*) FROM touched_tickets").fetchall()[0][0]
        if touched:
            con.execute("DELETE FROM visits WHERE ticket_id IN (SELECT ticket_id FROM touched_tickets)")
            con.execute("DELETE FROM tickets WHERE ticket_id IN (SELECT ticket_id FROM touched_tickets)")
            for sql in self._derive_sql:
                con.execute(sql)
        return touched

    # ---- positions: which messages are already landed -----------------------
    def use_logs(self, log_ids: dict[str, str]) -> list[LogReset]:
        """Say which log (Kafka topic id) each topic is; load the positions landed in it.

        Positions stored under another id belong to a log that is gone (a recreated topic, a
        restarted embedded broker): each is recorded as a reset, then dropped (docs/recovery.md)."""
        self._log_ids = dict(log_ids)
        self._positions = {}
        self.log_resets = self._con.execute("SELECT count(*) FROM log_resets").fetchall()[0][0]
        resets = self._adopt_new_logs(list(self._log_ids))
        rows = self._con.execute('SELECT source, "partition", log_id, last_offset FROM ingest_positions').fetchall()
        for source, partition, log_id, last_offset in rows:
            if source in self._log_ids and self._log_ids[source] == log_id:
                self._positions[(source, partition)] = last_offset
        return resets

    def check_logs(self, current: dict[str, str]) -> list[LogReset]:
        """Compare the topics' ids now (from the broker) with those in use; adopt any new log."""
        changed = [t for t, log_id in current.items() if t in self._log_ids and log_id != self._log_ids[t]]
        if not changed:
            return []
        self._log_ids.update({t: current[t] for t in changed})
        return self._adopt_new_logs(changed)

    def _adopt_new_logs(self, topics: list[str]) -> list[LogReset]:
        """Record and drop the positions of these topics that belong to another log id."""
        old = self._con.execute(
            """SELECT source, "partition", log_id, last_offset FROM ingest_positions
               WHERE source IN (SELECT unnest($t::VARCHAR[])) ORDER BY source, "partition" """,
            {"t": topics},
        ).fetchall()
        resets = [
            LogReset(source, partition, "new_log", log_id, self._log_ids[source], last_offset)
            for source, partition, log_id, last_offset in old
            if log_id != self._log_ids[source]
        ]
        if not resets:
            return []

        def work(con: duckdb.DuckDBPyConnection) -> None:
            self._insert_resets(con, resets)
            for r in resets:
                con.execute(
                    'DELETE FROM ingest_positions WHERE source = ? AND "partition" = ? AND log_id = ?',
                    [r.source, r.partition, r.old_log_id],
                )

        self.in_transaction(work)
        for r in resets:
            self._positions.pop((r.source, r.partition), None)
            self._stale[(r.source, r.partition)] = max(r.stored_offset, self._stale.get((r.source, r.partition), -1))
        return resets

    def check_bounds(self, bounds: dict[tuple[str, int], tuple[int, int]]) -> list[LogReset]:
        """Given each partition's log (first offset, offset after the last message), find logs
        that end below the stored position (truncated: lower the position to the log's end) or
        start past it (retention deleted events before they landed: recorded, nothing to skip)."""
        resets = []
        for (source, partition), (start, end) in sorted(bounds.items()):
            landed = self._positions.get((source, partition))
            if landed is None:
                continue
            log_id = self._log_ids.get(source, "")
            if end <= landed:
                resets.append(LogReset(source, partition, "truncated", log_id, log_id, landed, start, end))
            elif start > landed + 1:
                resets.append(
                    LogReset(
                        source,
                        partition,
                        "retention_gap",
                        log_id,
                        log_id,
                        landed,
                        start,
                        end,
                        lost_offsets=start - landed - 1,
                    )
                )
        if not resets:
            return []

        def work(con: duckdb.DuckDBPyConnection) -> None:
            self._insert_resets(con, resets)
            for r in resets:
                if r.kind == "truncated":
                    assert r.log_end is not None  # a truncated reset is made with the log's end
                    con.execute(
                        "UPDATE ingest_positions SET last_offset = ? "
                        'WHERE source = ? AND "partition" = ? AND log_id = ?',
                        [r.log_end - 1, r.source, r.partition, r.new_log_id],
                    )

        self.in_transaction(work)
        for r in resets:
            if r.kind == "truncated":
                assert r.log_end is not None  # as above
                self._positions[(r.source, r.partition)] = r.log_end - 1
                self._stale[(r.source, r.partition)] = r.stored_offset
        return resets

    def _insert_resets(self, con: duckdb.DuckDBPyConnection, resets: list[LogReset]) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        con.executemany(
            "INSERT INTO log_resets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    now,
                    r.source,
                    r.partition,
                    r.kind,
                    r.old_log_id,
                    r.new_log_id,
                    r.stored_offset,
                    r.log_start,
                    r.log_end,
                    r.lost_offsets,
                ]
                for r in resets
            ],
        )
        self.log_resets += len(resets)

    def positions(self) -> dict[tuple[str, int], int]:
        """The landed position of each partition of the logs in use."""
        return dict(self._positions)

    def unseen(self, envelopes: Iterable[Envelope]) -> tuple[list[Envelope], int]:
        """Drop messages at or below the landed position of their partition (redeliveries)."""
        fresh, skipped = [], 0
        for envelope in envelopes:
            landed = self._positions.get((envelope.source, envelope.partition))
            if landed is not None and envelope.offset <= landed:
                skipped += 1
            else:
                fresh.append(envelope)
        return fresh, skipped

    def count_after_reset(self, fresh: Iterable[Envelope]) -> int:
        """Count (in ``after_reset``) the messages of reset logs at offsets their stale position
        would have skipped: the events a silent skip would have lost."""
        if not self._stale:
            return 0
        n = 0
        for envelope in fresh:
            stale = self._stale.get((envelope.source, envelope.partition))
            if stale is not None and envelope.offset <= stale:
                n += 1
        self.after_reset += n
        return n

    def landed_position(self, source: str, partition: int) -> int | None:
        return self._positions.get((source, partition))

    # ---- pull cursors (flowmeter sync --db) -----------------------------------
    def sync_cursor(self, key: str) -> datetime | None:
        """When the last complete pass of this source and selection started (aware UTC), if any."""
        rows = self._con.execute("SELECT synced_from FROM sync_cursors WHERE cursor_key = ?", [key]).fetchall()
        return rows[0][0].replace(tzinfo=UTC) if rows else None

    def save_sync_cursor(self, key: str, source: str, url: str, selection: str, synced_from: datetime) -> None:
        """Record a complete pass (called only once its events are committed)."""
        at = synced_from.astimezone(UTC).replace(tzinfo=None)
        now = datetime.now(UTC).replace(tzinfo=None)
        self.in_transaction(
            lambda con: con.execute(
                """INSERT INTO sync_cursors VALUES (?, ?, ?, ?, ?, 1, ?)
                   ON CONFLICT DO UPDATE SET synced_from = excluded.synced_from, passes = passes + 1,
                                             url = excluded.url, selection = excluded.selection,
                                             updated_at = excluded.updated_at""",
                [key, source, url, selection, at, now],
            )
        )

    # ---- the write path ------------------------------------------------------
    def commit(self, batch: PreparedBatch, derive: bool = True) -> LandResult:
        """Land one prepared batch and its positions in one transaction.

        derive=False (a backfill): the touched tickets are queued in derive_backlog, in the same
        transaction, instead of re-derived; ``derive_backlog()`` derives each of them once. A
        backlog left by a crash is derived when the store is next opened for writing."""
        now = datetime.now(UTC).replace(tzinfo=None)
        con = self._con
        con.begin()
        try:
            counts: Counter[tuple[str, str, str]] = Counter()
            if batch.rows is not None:
                touched = self._insert_transition_rows(batch, now, counts)
            else:
                touched = self._insert_transitions(batch, now, counts)
            if derive:
                # Late and out-of-order events are fine: each touched ticket is re-derived whole.
                self._derive(touched, backlog=self.backlog_pending)
            elif touched is not None:
                self._append("derive_backlog", touched)
            self._insert_deploys(batch, now, counts)
            self._insert_incidents(batch, now, counts)
            own_copies = self._insert_dead_letters(batch, now, counts)
            positions = self._record_positions(batch, now)
            self._record_counts(counts, now)
            if self._failpoints.should_fail("store.commit"):
                raise duckdb.IOException("injected write failure (failpoint store.commit)")
            if self._failpoints.should_fail("store.fatal"):
                raise duckdb.FatalException(
                    "injected FATAL Error: database has been invalidated (failpoint store.fatal)"
                )
            con.commit()
        except BaseException:
            _rollback_quietly(con)
            raise
        self._positions.update(positions)
        if derive:
            self.backlog_pending = False
        elif touched is not None:
            self.backlog_pending = True
        oldest = _oldest_event(batch)
        if oldest is not None:
            self.last_transitions_batch = BatchTimes(time.monotonic(), oldest)
        return LandResult(
            landed=sum(n for (_, _, what), n in counts.items() if what == "landed"),
            duplicates=sum(n for (_, _, what), n in counts.items() if what == "duplicates"),
            dead_lettered=sum(n for (_, _, what), n in counts.items() if what == "dead_lettered"),
            own_copies=own_copies,
        )

    def _new_events(
        self, table: str, pairs: list[tuple[Envelope, Any]], kind: str, counts: Counter
    ) -> list[tuple[Envelope, Any]]:
        """Keep the first of each event_id not yet stored; count the rest as duplicates."""
        if not pairs:
            return []
        ids = list({event.event_id for _, event in pairs})
        # Checking only this batch's ids stays flat as the table grows (a key or an anti-join grew with it).
        seen = {
            row[0]
            for row in self._con.execute(
                f"SELECT event_id FROM {table} WHERE event_id IN (SELECT unnest($ids::VARCHAR[]))", {"ids": ids}
            ).fetchall()
        }
        fresh, repeated = [], []
        for pair in pairs:
            event_id = pair[1].event_id
            if event_id in seen:
                repeated.append(pair[0].source)
            else:
                seen.add(event_id)
                fresh.append(pair)
        # Counted in bulk (Counter over an iterable runs in C), not one increment per event.
        for source, n in Counter(env.source for env, _ in fresh).items():
            counts[(source, kind, "landed")] += n
        for source, n in Counter(repeated).items():
            counts[(source, kind, "duplicates")] += n
        return fresh

    def _insert_transitions(self, batch: PreparedBatch, now: datetime, counts: Counter) -> pa.Table | None:
        """Append the batch's new transitions; return the tickets they touch (None: no new ones)."""
        fresh = self._new_events("transitions", batch.transitions, "transition", counts)
        if not fresh:
            return None
        columns = _transition_columns(fresh)
        columns["landed_at"] = [now] * len(fresh)
        columns["src"] = [env.src for env, _ in fresh]
        attributes = [event.attributes for _, event in fresh]
        if any(a is not None for a in attributes):  # optional: most sources send none
            columns["attributes"] = attributes
        self._append("transitions", pa.table(columns))
        return pa.table({"ticket_id": list(set(columns["ticket_id"]))})

    def _insert_transition_rows(self, batch: PreparedBatch, now: datetime, counts: Counter) -> pa.Table | None:
        """The table form of _insert_transitions (`flowmeter load`): the rows checked column-wise
        and the transitions parsed one by one, deduplicated together in SQL, first line first."""
        assert batch.rows is not None
        source, table = batch.rows.source, batch.rows.table
        if batch.transitions:
            if any(env.source != source for env, _ in batch.transitions):
                raise ValueError("a batch with column-wise rows must come from one source")
            extra = _transition_columns(batch.transitions)
            extra["ord"] = [env.offset for env, _ in batch.transitions]
            table = pa.concat_tables([table, pa.table(extra, schema=table.schema)])
        if not table.num_rows:
            return None
        con = self._con
        con.register("_incoming_rows", table)
        try:
            # A duplicate: already stored, or an earlier line of this batch has the same event_id.
            # The inner IN builds its hash table on this batch, not on every stored event.
            cols = ", ".join(_TRANSITION_COLUMNS.values())
            landed = con.execute(
                f"""
                INSERT INTO transitions ({cols}, landed_at, src)
                SELECT {cols}, $now, $source || ':' || ord FROM _incoming_rows
                WHERE event_id NOT IN (SELECT event_id FROM transitions
                                       WHERE event_id IN (SELECT event_id FROM _incoming_rows))
                QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ord) = 1""",
                {"now": now, "source": source},
            ).fetchall()[0][0]
        finally:
            con.unregister("_incoming_rows")
        if landed:
            self._add_attributes(batch, now)
        counts[(source, "transition", "landed")] += landed
        counts[(source, "transition", "duplicates")] += table.num_rows - landed
        # Every ticket of the batch, duplicates' too: deriving a ticket again changes nothing.
        return table.select(["ticket_id"]) if landed else None

    def _add_attributes(self, batch: PreparedBatch, now: datetime) -> None:
        """The attributes of the per-event transitions just landed in this commit (the column-wise
        rows carry none: lines with attributes are always checked per event)."""
        first: dict[str, str] = {}  # the first line of an event_id is the one that landed
        for _, event in sorted(batch.transitions, key=lambda pair: pair[0].offset):
            if event.attributes is not None:
                first.setdefault(event.event_id, event.attributes)
        pairs = list(first.items())
        if pairs:
            self._con.execute(
                """UPDATE transitions SET attributes = a.attributes
                   FROM (SELECT unnest($ids::VARCHAR[]) AS event_id, unnest($attrs::VARCHAR[]) AS attributes) a
                   WHERE transitions.event_id = a.event_id AND transitions.landed_at = $now
                     AND transitions.attributes IS NULL""",
                {"ids": [p[0] for p in pairs], "attrs": [p[1] for p in pairs], "now": now},
            )

    def _derive(self, touched: pa.Table | None, backlog: bool) -> int:
        """Re-derive the touched tickets and, with backlog, those derive_backlog holds (inside the
        caller's transaction); returns how many tickets were derived."""
        if touched is None and not backlog:
            return 0
        self._con.execute("DELETE FROM touched_tickets")
        if touched is not None:
            self._append("touched_tickets", touched)
        if backlog:
            self._con.execute(
                "INSERT INTO touched_tickets SELECT DISTINCT ticket_id FROM derive_backlog "
                "EXCEPT SELECT ticket_id FROM touched_tickets"
            )
            self._con.execute("DELETE FROM derive_backlog")
        return self._rederive_touched()

    def derive_backlog(self) -> int:
        """Derive, once each, the tickets queued by commit(derive=False); returns how many."""
        derived = self.in_transaction(lambda _con: self._derive(None, backlog=True))
        self.backlog_pending = False
        return derived

    def _insert_deploys(self, batch: PreparedBatch, now: datetime, counts: Counter) -> None:
        fresh = self._new_events("deploys", batch.deploys, "deploy", counts)
        if not fresh:
            return
        columns: dict[str, Any] = {col: [getattr(e, attr) for _, e in fresh] for attr, col in _DEPLOY_COLUMNS.items()}
        columns["commits"] = pa.array(
            [[{"sha": c.sha, "committed_at": c.committed_at} for c in e.commits] for _, e in fresh], _COMMITS_TYPE
        )
        columns["tickets"] = pa.array([list(e.tickets) for _, e in fresh], pa.list_(pa.string()))
        columns["fixes"] = pa.array([list(e.fixes) for _, e in fresh], pa.list_(pa.string()))
        columns["landed_at"] = [now] * len(fresh)
        columns["src"] = [env.src for env, _ in fresh]
        self._append("deploys", pa.table(columns))

    def _insert_incidents(self, batch: PreparedBatch, now: datetime, counts: Counter) -> None:
        fresh = self._new_events("incidents", batch.incidents, "incident", counts)
        if not fresh:
            return
        columns: dict[str, Any] = {col: [getattr(e, attr) for _, e in fresh] for attr, col in _INCIDENT_COLUMNS.items()}
        columns["landed_at"] = [now] * len(fresh)
        columns["src"] = [env.src for env, _ in fresh]
        self._append("incidents", pa.table(columns))

    def _insert_dead_letters(self, batch: PreparedBatch, now: datetime, counts: Counter) -> int:
        """Record the batch's rejects, each dead letter once; return how many were copies of this
        worker's own dead letters read back from the dead-letter topic (recorded already).

        A message on the dead-letter topic whose headers say a worker rejected it names its
        source (flowmeter-source). It is a copy, and not counted again, only when the store holds
        (or this batch brings) a dead letter at that source with the same bytes: anyone can write
        the header, so a claim that matches nothing is a dead letter of its own, kept with the
        source it claims (copy_of). Should the claimed source arrive later and be rejected with
        the same bytes (a crash between publishing a copy and committing its batch, then the copy
        read before the redelivered original), the original takes the copy's place and count.
        """
        if not batch.rejects:
            return 0
        kept = [(r, _kept_bytes(r.envelope), _original_bytes(r.envelope)) for r in batch.rejects]
        own = {r.envelope.src: (raw, size) for r, raw, size in kept if r.envelope.claims_source is None}
        claimed = [r.envelope.claims_source for r, _, _ in kept if r.envelope.claims_source is not None]
        stored: dict[str, list[tuple[bytes, int | None, str | None, str]]] = {}
        copies_of: dict[str, list[tuple[str, bytes, int | None, str]]] = {}
        for src, raw, size, copy_of, kind in self._con.execute(
            """SELECT src, raw, original_bytes, copy_of, kind FROM dead_letters
               WHERE src IN (SELECT unnest($s::VARCHAR[])) OR copy_of IN (SELECT unnest($c::VARCHAR[]))""",
            {"s": list(own) + claimed, "c": list(own)},
        ).fetchall():
            stored.setdefault(src, []).append((raw, size, copy_of, kind))
            if copy_of is not None:
                copies_of.setdefault(copy_of, []).append((src, raw, size, kind))
        rows, own_copies, replaced = [], 0, []
        for reject, raw, size in kept:
            env = reject.envelope
            claim = env.claims_source
            if claim is not None and _copies(own.get(claim), stored.get(claim, ()), raw, size):
                own_copies += 1  # this worker's own dead letter, read back: recorded already
                continue
            if _holds(None, stored.get(env.src, ()), raw, size):  # the same dead letter again (a re-run load)
                counts[(env.source, env.kind, "duplicates")] += 1
                continue
            stored.setdefault(env.src, []).append((raw, size, claim, env.kind))
            for copy_src, copy_raw, copy_size, copy_kind in copies_of.get(env.src, ()):
                if deadletter.same_message(raw, size, copy_raw, copy_size):
                    replaced.append(copy_src)  # its copy came first (see above): the original replaces it
                    counts[(_source_of(copy_src), copy_kind, "dead_lettered")] -= 1
            counts[(env.source, env.kind, "dead_lettered")] += 1
            rows.append((env.src, env.kind, reject.reason, raw, size, claim))
        if replaced:
            self._con.execute("DELETE FROM dead_letters WHERE src IN (SELECT unnest($s::VARCHAR[]))", {"s": replaced})
        if rows:
            text = deadletter.clean_text
            self._append(
                "dead_letters",
                pa.table(
                    {
                        "src": [text(r[0], deadletter.REASON_CHARS) for r in rows],
                        "kind": [text(r[1], deadletter.KIND_CHARS) for r in rows],
                        "reason": [text(r[2], deadletter.REASON_CHARS) for r in rows],
                        "raw": pa.array([r[3] for r in rows], pa.binary()),
                        "received_at": [now] * len(rows),
                        "original_bytes": pa.array([r[4] for r in rows], pa.int64()),
                        "copy_of": [None if r[5] is None else text(r[5], deadletter.REASON_CHARS) for r in rows],
                    }
                ),
            )
        return own_copies

    def _record_positions(self, batch: PreparedBatch, now: datetime) -> dict[tuple[str, int], int]:
        # Files have no log id and are not skipped by position: event_id dedup covers re-runs.
        positions = {key: offset for key, offset in batch.positions.items() if key[0] in self._log_ids}
        if positions:  # one statement for every partition (one each cost ~4 ms a batch)
            keys = list(positions)
            self._con.execute(
                """INSERT INTO ingest_positions
                   SELECT unnest($s::VARCHAR[]), unnest($p::INTEGER[]), unnest($l::VARCHAR[]),
                          unnest($o::BIGINT[]), $now
                   ON CONFLICT DO UPDATE SET last_offset = greatest(last_offset, excluded.last_offset),
                                             updated_at = excluded.updated_at""",
                {
                    "s": [k[0] for k in keys],
                    "p": [k[1] for k in keys],
                    "l": [self._log_ids[k[0]] for k in keys],
                    "o": [positions[k] for k in keys],
                    "now": now,
                },
            )
        return positions

    def _record_counts(self, counts: Counter, now: datetime) -> None:
        per_source: dict[tuple[str, str], dict[str, int]] = {}
        for (source, kind, what), n in counts.items():
            # Valid UTF-8 whatever a header or a file name held (clean_text leaves plain text alone).
            key = (
                deadletter.clean_text(source, deadletter.REASON_CHARS),
                deadletter.clean_text(kind, deadletter.KIND_CHARS),
            )
            per_source.setdefault(key, {"landed": 0, "duplicates": 0, "dead_lettered": 0})[what] += n
        for (source, kind), c in per_source.items():
            self._con.execute(
                """INSERT INTO ingest_counts VALUES ($s, $k, $l, $d, $x, $now)
                   ON CONFLICT DO UPDATE SET landed = landed + excluded.landed,
                       duplicates = duplicates + excluded.duplicates,
                       dead_lettered = dead_lettered + excluded.dead_lettered,
                       updated_at = excluded.updated_at""",
                {"s": source, "k": kind, "l": c["landed"], "d": c["duplicates"], "x": c["dead_lettered"], "now": now},
            )

    def _append(self, table: str, data: pa.Table) -> None:
        name = f"_incoming_{table}"
        self._con.register(name, data)
        try:
            cols = ", ".join(f'"{c}"' for c in data.column_names)
            self._con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name}").fetchall()
        finally:
            self._con.unregister(name)

    def in_transaction(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(con, *args)`` on the writer connection in one transaction (rolled back
        if it raises). The alerting package's one way to write (the alerts and alert_deliveries
        tables: see the module's docstring); call it from the writer thread."""
        con = self._con
        con.begin()
        try:
            result = work(con, *args)
            con.commit()
        except BaseException:
            _rollback_quietly(con)
            raise
        return result

    def lock_down(self) -> None:
        """From here on no SQL on this database reaches files or the network, and no setting
        changes: the guard under the ad hoc query service. Irreversible for this process."""
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for one reader (safe to use from any thread)."""
        with self._cursor_lock:
            cursor = self._con.cursor()
            self._readers.add(cursor)
            return cursor

    def interrupt_readers(self) -> int:
        """Interrupt whatever the readers' cursors are running (the worker is stopping: an ad hoc
        query must not hold the stop up for the rest of its query_timeout); from now on
        `readers_stopped` is true. Returns how many cursors were open."""
        with self._cursor_lock:
            self.readers_stopped = True
            readers = list(self._readers)
        for cursor in readers:
            with contextlib.suppress(duckdb.Error):  # already closed: nothing to interrupt
                cursor.interrupt()
        return len(readers)

    # ---- the read path -------------------------------------------------------
    def read(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one query on a cursor of its own (safe from any thread), in a read-only
        transaction that is rolled back; return columns and rows."""
        cursor = self.cursor()
        try:
            with read_only_transaction(cursor):
                result = cursor.execute(sql, params) if params is not None else cursor.execute(sql)
                columns = [d[0] for d in result.description]
                return columns, result.fetchall()
        finally:
            cursor.close()


def _transition_columns(pairs: list[tuple[Envelope, Any]]) -> dict[str, list[Any]]:
    """The transitions table's columns of these parsed events. One C-level attrgetter per event
    and a zip transpose: a getattr per field and event in Python was most of an insert's time."""
    rows = list(map(_TRANSITION_FIELDS, (event for _, event in pairs)))
    return dict(zip(_TRANSITION_COLUMNS.values(), map(list, zip(*rows))))


def _kept_bytes(envelope: Envelope) -> bytes:
    return deadletter.copy_of(envelope.value, deadletter.STORED_BYTES)


def _original_bytes(envelope: Envelope) -> int:
    """The message's full size: as its copy's header says, else its own length."""
    if envelope.original_bytes is not None:
        return envelope.original_bytes
    return len(envelope.value) if envelope.value is not None else 0


def _holds(
    in_batch: tuple[bytes, int] | None, stored: Iterable[tuple[bytes, int | None, Any, Any]], raw: bytes, size: int
) -> bool:
    """Whether this batch's dead letter or one stored at the same src is the same message."""
    if in_batch is not None and deadletter.same_message(in_batch[0], in_batch[1], raw, size):
        return True
    return any(deadletter.same_message(s_raw, s_size, raw, size) for s_raw, s_size, _, _ in stored)


def _copies(
    in_batch: tuple[bytes, int] | None, stored: Iterable[tuple[bytes, int | None, Any, Any]], raw: bytes, size: int
) -> bool:
    """Whether `raw` (of original `size`) is exactly the worker's copy of the dead letter this batch
    brings or the store holds at the source it claims."""
    if in_batch is not None and deadletter.is_copy(raw, size, in_batch[0], in_batch[1]):
        return True
    return any(deadletter.is_copy(raw, size, s_raw, s_size) for s_raw, s_size, _, _ in stored)


def _source_of(src: str) -> str:
    """'flow.dead-letter' of 'flow.dead-letter[0]@17' (topic names hold no '[')."""
    return src.rsplit("[", 1)[0]


def _oldest_event(batch: PreparedBatch) -> datetime | None:
    times = [e.at for _, e in batch.transitions]
    if batch.rows is not None and batch.rows.table.num_rows:
        times.append(pa.compute.min(batch.rows.table.column("occurred_at")).as_py())
    return min(times) if times else None


def _write_stability(con: duckdb.DuckDBPyConnection, stability: Stability) -> None:
    """The [dora] stability settings into the tables the views join (inside the caller's transaction).
    Always rewritten, never a re-derive: the views read them at query time."""
    con.execute("DELETE FROM incident_link_window")
    con.execute("INSERT INTO incident_link_window VALUES (?)", [stability.incident_link_window_hours])
    for table, rows in (
        ("severity_levels", stability.severity_rows()),
        ("ticket_type_roles", stability.ticket_type_rows()),
    ):
        con.execute(f"DELETE FROM {table}")
        if rows:  # every list may be empty; executemany refuses an empty one
            con.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.rollback()
    except duckdb.Error as exc:  # the transaction may already be gone after a fatal error
        log.debug("rollback after a failed write reported: %s", exc)


def _close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except duckdb.Error as exc:
        log.debug("closing a store that failed to open reported: %s", exc)


_DAMAGE = ("corrupt", "checksum", "could not read enough bytes", "not a valid duckdb database")


def is_disk_full(exc: BaseException) -> bool:
    return "no space left on device" in str(exc).lower() or getattr(exc, "errno", None) == errno.ENOSPC


def is_fatal(exc: BaseException) -> bool:
    """A DuckDB FATAL error: the database is invalidated and this connection can never write again."""
    return isinstance(exc, duckdb.FatalException) or "database has been invalidated" in str(exc)


def _explain_open_error(path: Path, exc: BaseException) -> Exception:
    text = str(exc)
    lowered = text.lower()
    holder = lock_holder(exc)
    if holder is not None and isinstance(exc, duckdb.IOException):
        return StoreLocked(
            f"the store {path} is in use by another process{holder}, normally a running `flowmeter worker`; "
            "send events through the broker (`flowmeter produce`) or stop the worker first."
        )
    if is_disk_full(exc):
        return StoreFull(
            f"the disk holding the store {path} is full (No space left on device); free space there and start "
            "again: nothing is lost, events not landed yet wait on the broker."
        )
    if any(word in lowered for word in _DAMAGE):
        first = text.splitlines()[0][:200]
        return StoreDamaged(
            f"the store {path} is damaged ({first}); move it aside and rebuild it from Kafka or restore a "
            "snapshot, as docs/recovery.md describes."
        )
    return StoreError(f"cannot open the store {path}: {text}")
