"""Metric views at scale: every documented view's typical dashboard query, median of 5.

Generates N tickets x ~10 transitions over 90 days straight into a fresh store (this
measures the views, not ingestion), deploys and incidents (about 1 per 100 transitions,
--incidents to choose), re-derives everything once (what `flowmeter remap` costs), times
each view, then times incremental batches landing through the real write path at that size.
Run: python -m benchmarks.views --tickets 1111111 (about 10M transitions and 100,000 incidents)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from flowcore.workflow import StateDef, Workflow
from tests.helpers.store import pin_now, writer_rows

STATES = (
    StateDef("Backlog", "backlog"),
    StateDef("In Progress", "active"),
    StateDef("Review", "queue"),
    StateDef("QA", "queue"),
    StateDef("Done", "done"),
)
# Each ticket's path; open tickets stop part-way. Back-and-forth moves make ~10 events a ticket.
# generate(): 4 in 5 tickets take all 10 steps, the rest 1-9 (5 on average): 9 transitions a ticket.
TRANSITIONS_PER_TICKET = 9
NOW = "2025-04-01 12:00:00"  # fm_now() pinned: the generated events span 2025-01-01 .. 2025-03-31
PATH = ["Backlog", "In Progress", "Review", "In Progress", "Review", "QA", "In Progress", "Review", "QA", "Done"]

QUERIES = {
    "ingest_status": "SELECT * FROM ingest_status",
    "state_visits": "SELECT * FROM state_visits WHERE ticket_id = 'T4242'",
    "ticket_current": "SELECT * FROM ticket_current WHERE board = 'board1' AND category = 'queue' "
    "ORDER BY time_in_state_days DESC LIMIT 100",
    "ticket_flow": "SELECT count(*), avg(cycle_time_days), avg(flow_efficiency) FROM ticket_flow "
    "WHERE board = 'board1' AND done_at >= fm_now() - INTERVAL 30 DAY",
    "ticket_teams": "SELECT count(DISTINCT ticket_id) FROM ticket_teams WHERE board = 'board1' AND team = 'team3' "
    "AND done_at >= fm_now() - INTERVAL 7 DAY",
    "board_states": "SELECT * FROM board_states WHERE board = 'board1'",
    "wip_now": "SELECT * FROM wip_now WHERE board = 'board1'",
    "wip_daily": "SELECT * FROM wip_daily WHERE board = 'board1' AND day >= fm_now()::DATE - 30",
    "cfd_daily": "SELECT * FROM cfd_daily WHERE board = 'board1' AND day >= fm_now()::DATE - 30",
    "cfd_arrivals_daily": "SELECT * FROM cfd_arrivals_daily WHERE board = 'board1' AND day >= fm_now()::DATE - 30",
    "throughput_daily": "SELECT day, sum(done) FROM throughput_daily WHERE board = 'board1' "
    "AND day >= fm_now()::DATE - 30 GROUP BY day",
    "throughput_weekly": "SELECT week, sum(done) FROM throughput_weekly WHERE board = 'board1' GROUP BY week",
    "cycle_time_percentiles": "SELECT * FROM cycle_time_percentiles WHERE board = 'board1' AND team = '*' "
    "AND ticket_type = '*'",
    "state_time_percentiles": "SELECT * FROM state_time_percentiles WHERE board = 'board1'",
    "aging_wip": "SELECT * FROM aging_wip WHERE board = 'board1' ORDER BY age_days DESC LIMIT 50",
    "queue_wait_daily": "SELECT state, sum(wait_days) FROM queue_wait_daily WHERE board = 'board1' "
    "AND day >= fm_now()::DATE - 30 GROUP BY state",
    "handoff_matrix": "SELECT * FROM handoff_matrix WHERE board = 'board1'",
    "handoff_events": "SELECT from_party, to_party, count(*), median(wait_after_hours) FROM handoff_events "
    "WHERE level = 'team' GROUP BY ALL",
    "deploy_frequency": "SELECT * FROM deploy_frequency WHERE service = 'svc1' AND day >= fm_now()::DATE - 30",
    "change_lead_time": "SELECT median(lead_time_hours) FROM change_lead_time WHERE service = 'svc1'",
    "change_failure_rate": "SELECT sum(failed_deploys) / sum(deploys) FROM change_failure_rate WHERE service = 'svc1'",
    "recovery_time": "SELECT median(recovery_hours) FROM recovery_time WHERE service = 'svc1'",
    "ticket_to_production": "SELECT count(*) FROM ticket_to_production WHERE board = 'board1'",
    "bug_arrivals": "SELECT week, sum(bugs) FROM bug_arrivals WHERE board = 'board1' GROUP BY week",
    "incident_timeline": "SELECT * FROM incident_timeline WHERE service = 'svc0' AND status = 'open'",
    "deploy_incidents": "SELECT link, count(*) FROM deploy_incidents GROUP BY link",
    "incident_summary": "SELECT * FROM incident_summary WHERE service = 'svc1' "
    "AND opened_at >= fm_now() - INTERVAL 30 DAY ORDER BY opened_at DESC LIMIT 100",
    "time_to_restore": "SELECT * FROM time_to_restore WHERE service = 'svc1'",
    "failure_frequency": "SELECT week, sum(incidents) FROM failure_frequency WHERE service = 'svc1' GROUP BY week",
    "deploy_outcomes": "SELECT count(*) FILTER (WHERE change_failed) / count(*), count(*) FILTER (WHERE rework) "
    "/ count(*) FROM deploy_outcomes WHERE is_production AND service = 'svc1'",
    "failed_deployment_recovery": "SELECT cause, median(recovery_hours) FROM failed_deployment_recovery "
    "WHERE service = 'svc1' GROUP BY cause",
    "dora_summary": "SELECT * FROM dora_summary",
    "alert_log": "SELECT * FROM alert_log ORDER BY started_at DESC LIMIT 100",
    "open_alerts": "SELECT * FROM open_alerts",
    "alert_list": "SELECT * FROM alert_list WHERE status <> 'resolved' ORDER BY started_at DESC",
}


def default_incidents(tickets: int) -> int:
    """About 1 incident per 100 transitions: 100,000 for 10M transitions."""
    return tickets * TRANSITIONS_PER_TICKET // 100


def generate(store: Store, tickets: int, deploys: int, incidents: int | None = None) -> None:
    incidents = default_incidents(tickets) if incidents is None else incidents
    store.in_transaction(_insert_generated, tickets, deploys, incidents)


def _insert_generated(con: duckdb.DuckDBPyConnection, tickets: int, deploys: int, incidents: int) -> None:
    path = "[" + ", ".join(f"'{s}'" for s in PATH) + "]"
    con.execute(f"""
        INSERT INTO transitions
        WITH t AS (
            SELECT id, TIMESTAMP '2025-01-01' + INTERVAL (hash(id) % (90 * 24)) HOUR AS start,
                   CASE WHEN hash(id * 7) % 5 = 0 THEN 1 + hash(id * 3) % 9 ELSE 10 END AS steps
            FROM range({tickets}) r(id)
        )
        SELECT 'e' || id || '-' || k, 'T' || id, 'board' || (id % 10),
               CASE WHEN k = 0 THEN NULL ELSE {path}[k] END, {path}[k + 1],
               start + INTERVAL (k * 12 + hash(id * 10 + k) % 10) HOUR,
               NULL, 'team' || ((id + k // 5) % 20), CASE WHEN id % 7 = 0 THEN 'bug' ELSE 'story' END, NULL, 'bench',
               TIMESTAMP '2025-04-01', 'bench', NULL  -- attributes: none, as from a source that sends none
        FROM t, range(10) s(k) WHERE k < steps
    """)
    con.execute(f"""
        INSERT INTO deploys
        SELECT 'd' || id, 'svc' || (id % 20), CASE WHEN id % 3 = 0 THEN 'staging' ELSE 'production' END,
               CASE WHEN hash(id) % 10 = 0 THEN 'failure' WHEN hash(id) % 25 = 0 THEN 'rolled_back' ELSE 'success' END,
               TIMESTAMP '2025-01-01' + INTERVAL (id * 90 * 24 * 60 // {deploys}) MINUTE, NULL, NULL,
               [{{'sha': 'c' || id,
                  'committed_at': TIMESTAMP '2025-01-01' + INTERVAL (id * 90 * 24 * 60 // {deploys} - 300) MINUTE}}],
               ['T' || (id * 17 % {tickets})], 'bench', TIMESTAMP '2025-04-01', 'bench',
               CASE WHEN id % 50 = 0 THEN ['inc' || (id % {max(incidents, 1)})] END
        FROM range({deploys}) r(id)
    """)
    # Incidents spread over the 90 days on the deploys' services: opened, mostly acknowledged
    # 5..65 min later, resolved 1..48 h later (1 in 20 still open, 1 in 10 reopened and resolved
    # again); 1 in 10 names a deploy as caused_by, the rest link by the window or not at all.
    con.execute(f"""
        INSERT INTO incidents
        WITH i AS (
            SELECT id, 'svc' || (id % 20) AS service,
                   TIMESTAMP '2025-01-01' + INTERVAL (hash(id) % (90 * 24 * 60)) MINUTE AS opened,
                   (['P1', 'P2', 'P3', 'critical', 'warning', NULL])[1 + id % 6] AS severity,
                   CASE WHEN id % 10 = 0 THEN 'd' || (hash(id * 3) % {max(deploys, 1)}) END AS caused_by,
                   INTERVAL (60 + hash(id * 5) % (47 * 60)) MINUTE AS restore
            FROM range({incidents}) r(id)
        ), e AS (
            SELECT i.*, s.step, s.status,
                   CASE s.step WHEN 0 THEN opened
                               WHEN 1 THEN opened + INTERVAL (5 + id % 60) MINUTE
                               WHEN 2 THEN opened + restore
                               WHEN 3 THEN opened + restore + INTERVAL 30 MINUTE
                               ELSE opened + restore + INTERVAL 90 MINUTE END AS occurred
            FROM i, (VALUES (0, 'opened'), (1, 'acknowledged'), (2, 'resolved'), (3, 'opened'), (4, 'resolved'))
                    s(step, status)
            WHERE (s.step <> 1 OR id % 4 <> 0)
              AND (s.step <> 2 OR id % 20 <> 0)
              AND (s.step < 3 OR (id % 10 = 1))
        )
        SELECT 'inc' || id || '-' || step, 'inc' || id, service, status, occurred, 'production', severity,
               'bench incident ' || id, NULL, caused_by, 'bench', TIMESTAMP '2025-04-01', 'bench'
        FROM e
    """)


def build(path: Path, tickets: int, deploys: int, incidents: int | None = None) -> tuple[Store, int, float, float]:
    """A fresh store at `path` with generated data, fm_now() pinned and everything re-derived:
    (the open store, transitions, seconds generating, seconds of the full re-derive)."""
    workflow = Workflow(default=STATES)
    store = Store.open(path, workflow=workflow)
    try:
        pin_now(store, NOW)
        gen = timed(lambda: generate(store, tickets, deploys, incidents))[0]
        transitions = store.read("SELECT count(*) FROM transitions")[1][0][0]
        derive = timed(lambda: store.sync_workflow(workflow, force=True))[0]
    except BaseException:
        store.close()
        raise
    return store, transitions, gen, derive


def time_views(store: Store, repeats: int) -> dict[str, tuple[list[float], int]]:
    """Each view's query in QUERIES run `repeats` times: {view: (seconds per run, rows)}. On the
    writer connection, the one that sees the pinned fm_now() (tests/helpers/store.py)."""
    out = {}
    for view, sql in QUERIES.items():
        rows: list[int] = []
        times = timed(lambda rows=rows, sql=sql: rows.append(len(writer_rows(store, sql))), repeats)
        out[view] = (times, rows[-1])
    return out


def timed(func, repeats: int = 1) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        out.append(time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--deploys", type=int, default=50_000)
    parser.add_argument(
        "--incidents", type=int, default=None, help="default: about 1 per 100 transitions (tickets x 9 / 100)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    incidents = default_incidents(args.tickets) if args.incidents is None else args.incidents

    path = Path(tempfile.mkdtemp(prefix="flowmeter-views-")) / "bench.duckdb"
    store, transitions, gen, derive = build(path, args.tickets, args.deploys, incidents)
    with store:
        print(
            f"{transitions:,} transitions, {args.tickets:,} tickets, {args.deploys:,} deploys, "
            f"{incidents:,} incidents "
            f"(generated in {gen:.1f} s); full re-derive (flowmeter remap): {derive:.1f} s"
        )
        print(f"{'view':<26} {'median s':>9} {'min s':>7} {'max s':>7}  rows")
        for view, (times, rows) in time_views(store, args.repeats).items():
            print(f"{view:<26} {statistics.median(times):>9.3f} {min(times):>7.3f} {max(times):>7.3f}  {rows:,}")

        # Incremental landing at this size: 5,000 late events for 5,000 existing tickets.
        batch_times = []
        for b in range(args.repeats):
            envs = [
                Envelope(
                    "bench",
                    0,
                    b * 5000 + i,
                    "transition",
                    json.dumps(
                        {
                            "event_id": f"late-{b}-{i}",
                            "ticket_id": f"T{(b * 5000 + i) * 97 % args.tickets}",
                            "board": f"board{(b * 5000 + i) * 97 % args.tickets % 10}",
                            "from_state": "Review",
                            "to_state": "QA",
                            "at": "2025-03-20T10:00:00Z",
                            "team": "team1",
                        }
                    ).encode(),
                )
                for i in range(5000)
            ]
            batch = prepare(envs)
            batch_times += timed(lambda batch=batch: store.commit(batch))
        print(
            f"landing a 5,000-event batch that re-derives 5,000 tickets: median "
            f"{statistics.median(batch_times):.3f} s (min {min(batch_times):.3f}, max {max(batch_times):.3f})"
        )
    print(f"store: {path} ({path.stat().st_size / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
