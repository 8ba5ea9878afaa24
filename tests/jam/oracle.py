"""Reference numbers from jira-agile-metrics (JAM) 0.24 for flowmeter's flow metrics.

Run inside the JAM environment (scripts/jam-env.sh creates it):

    .venv-jam/bin/python tests/jam/oracle.py < input.json > output.json

The ticket histories in the input are turned into fake JIRA issues (a changelog of status
changes, the shape JAM's own tests fake with FauxJIRA/FauxIssue/FauxChange) and fed to JAM's
own pipeline: QueryManager -> CycleTimeCalculator -> CFDCalculator -> ThroughputCalculator ->
WIPChartCalculator, run by JAM's `run_calculators`. Nothing of JAM is reimplemented except two
documented read-outs of its intermediate data (the backfilled commitment/done dates per ticket,
and per-state bands = differences of adjacent CFD columns). See tests/jam/README.md for the
input/output format, JAM's definitions and how they map onto flowmeter's views.

Exit status: 0 with JSON on stdout; 2 for invalid input (message on stderr); 1 if JAM fails.
"""

import datetime
import importlib.metadata
import json
import logging
import os
import sys
import warnings

JAM_VERSION = "0.24"
CATEGORIES = ("backlog", "queue", "active", "done")


class InputError(Exception):
    pass


# --- a fake of the small part of the JIRA client API that JAM uses --------------------------
# JAM reads: jira.fields(), jira.search_issues(), jira._options['server']; issue.key,
# issue.changelog.histories[].created/.items[].field/.fromString/.toString, and
# issue.fields.{created, status.name, issuetype.name, summary, resolution, resolutiondate,
# <Flagged field>} (see querymanager.QueryManager.iter_changes and
# calculators/cycletime.calculate_cycle_times).

FLAGGED_FIELD = "customfield_100"
JIRA_FIELDS = [
    {"id": "summary", "name": "Summary"},
    {"id": "issuetype", "name": "Issue type"},
    {"id": "status", "name": "Status"},
    {"id": "resolution", "name": "Resolution"},
    {"id": "created", "name": "Created date"},
    {"id": FLAGGED_FIELD, "name": "Flagged"},  # iter_changes() always looks this field up
]


class Named:
    """A JIRA object value (status, issue type): `.name`, and `.value` for field resolution."""

    def __init__(self, name):
        self.name = name
        self.value = name

    def __str__(self):
        return self.name


class Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class FakeJira:
    def __init__(self, issues):
        self._options = {"server": "https://flowmeter.invalid"}
        self._issues = issues

    def fields(self):
        return JIRA_FIELDS

    def search_issues(self, jql, *args, **kwargs):
        return list(self._issues)


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


def make_issue(ticket, state_names):
    """A fake JIRA issue whose status changelog is the ticket's transitions.

    The transition with from_state null is the creation: its to_state is the status the issue
    is created in and its `at` the issue's `created` time (JAM dates the initial status at
    `created`). Every later transition is one changelog entry with one `status` item,
    fromString = the previous transition's to_state, toString = its to_state.
    """
    tid = ticket.get("ticket_id")
    if not isinstance(tid, str) or not tid:
        raise InputError("every ticket needs a non-empty string ticket_id")
    raw = ticket.get("transitions")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{tid}: needs a non-empty transitions list")
    trans = []
    for i, t in enumerate(raw):
        try:
            at = parse_naive(t["at"], f"{tid} transition {i} at")
            to_state = t["to_state"]
            from_state = t.get("from_state")
        except (KeyError, TypeError):
            raise InputError(f"{tid}: transition {i} needs to_state and at") from None
        for s in (to_state, from_state):
            if s is not None and s not in state_names:
                raise InputError(f"{tid}: transition {i} uses state {s!r}, not in states")
        trans.append((at, i, from_state, to_state))
    trans.sort()  # by time; input order breaks ties (JAM's own sort is stable too)

    creations = [t for t in trans if t[2] is None]
    if len(creations) > 1:
        raise InputError(f"{tid}: more than one transition with from_state null")
    if creations:
        if creations[0] is not trans[0]:
            raise InputError(f"{tid}: the from_state null (creation) transition is not the earliest")
        created_at, _, _, initial = trans[0]
        changes = trans[1:]
    else:
        # No creation event: the issue starts in the first transition's from_state.
        created_at = parse_naive(ticket.get("created_at"), f"{tid} created_at")
        initial = trans[0][2]
        changes = trans
        if created_at > trans[0][0]:
            raise InputError(f"{tid}: created_at is after its first transition")

    histories, prev = [], initial
    for at, _, _, to_state in changes:
        item = Obj(field="status", fromString=prev, toString=to_state, from_=prev, to=to_state)
        histories.append(Obj(created=_iso(at), items=[item]))
        prev = to_state

    fields = Obj(
        summary=tid,
        issuetype=Named("Story"),
        status=Named(prev),
        resolution=None,
        resolutiondate=None,
        created=_iso(created_at),
    )
    setattr(fields, FLAGGED_FIELD, None)
    return Obj(key=tid, fields=fields, changelog=Obj(histories=histories))


def parse_naive(value, what):
    if not isinstance(value, str):
        raise InputError(f"{what}: expected an ISO-8601 string, got {value!r}")
    try:
        dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{what}: not ISO-8601: {value!r}") from None
    if dt.tzinfo is not None:  # normalise to naive UTC; JAM drops offsets (ignoretz=True)
        dt = dt.astimezone(datetime.UTC).replace(tzinfo=None)
    return dt


def board_config(states):
    """JAM settings for the board, built by JAM's own config parser, then typed by category."""
    import yaml
    from jira_agile_metrics.config import config_to_options
    from jira_agile_metrics.utils import StatusTypes

    if not isinstance(states, list) or not states:
        raise InputError("states must be a non-empty list")
    names, cats = [], []
    for s in states:
        try:
            name, cat = s["name"], s["category"]
        except (KeyError, TypeError):
            raise InputError("every state needs name and category") from None
        if cat not in CATEGORIES:
            raise InputError(f"state {name!r}: category must be one of {CATEGORIES}")
        if name in names:
            raise InputError(f"state {name!r} listed twice")
        names.append(name)
        cats.append(cat)
    if len({n.lower() for n in names}) != len(names):
        raise InputError("state names must differ case-insensitively (JAM matches statuses case-insensitively)")
    if cats[0] != "backlog":
        raise InputError("the first state must be a backlog state (JAM's backlog column)")
    n_backlog = next((i for i, c in enumerate(cats) if c != "backlog"), len(cats))
    if n_backlog == len(cats) or "done" not in cats:
        raise InputError("states need a backlog state, then non-backlog states including a done state")
    if "backlog" in cats[n_backlog:]:
        raise InputError("backlog states must all come before the other states")
    done_idx = cats.index("done")
    if done_idx == n_backlog:
        raise InputError("need a queue or active state between the backlog and done states")
    if any(c != "done" for c in cats[done_idx:]):
        raise InputError("done states must all come last")
    if len(names) < 3:
        raise InputError("JAM needs at least three states")

    backlog_column = names[0]
    committed_column = names[n_backlog]
    done_column = names[done_idx]
    final_column = names[done_idx - 1]
    yaml_text = yaml.safe_dump(
        {
            "Query": "flowmeter",
            "Workflow": {n: [n] for n in names},
            "Output": {
                "Backlog column": backlog_column,
                "Committed column": committed_column,
                "Final column": final_column,
                "Done column": done_column,
                "Throughput frequency": "D",
            },
        },
        sort_keys=False,
    )
    options = config_to_options(yaml_text)
    settings = options["settings"]
    jam_type = {
        "backlog": StatusTypes.backlog,
        "queue": StatusTypes.accepted,
        "active": StatusTypes.accepted,
        "done": StatusTypes.complete,
    }
    for step, cat in zip(settings["cycle"], cats):
        step["type"] = jam_type[cat]
    return settings


def day(ts):
    return None if ts is None or ts != ts else ts.strftime("%Y-%m-%d")  # ts != ts: NaT


def run(inp):
    import pandas as pd
    from jira_agile_metrics.calculator import run_calculators
    from jira_agile_metrics.calculators.cfd import CFDCalculator
    from jira_agile_metrics.calculators.cycletime import CycleTimeCalculator
    from jira_agile_metrics.calculators.throughput import ThroughputCalculator
    from jira_agile_metrics.calculators.wip import WIPChartCalculator
    from jira_agile_metrics.querymanager import QueryManager

    if not isinstance(inp, dict):
        raise InputError("input must be a JSON object")
    settings = board_config(inp.get("states"))
    names = [s["name"] for s in settings["cycle"]]
    now = parse_naive(inp.get("now"), "now")
    tickets = inp.get("tickets")
    if not isinstance(tickets, list) or not tickets:
        raise InputError("tickets must be a non-empty list")
    issues = [make_issue(t, set(names)) for t in tickets]
    if len({i.key for i in issues}) != len(issues):
        raise InputError("ticket_id values must be unique")
    for t in tickets:
        for tr in t["transitions"]:
            if parse_naive(tr["at"], "at") > now:
                raise InputError(f"{t['ticket_id']}: transition at {tr['at']} is after now")

    qm = QueryManager(FakeJira(issues), settings)
    calculators = [CycleTimeCalculator, CFDCalculator, ThroughputCalculator, WIPChartCalculator]
    results = run_calculators(calculators, qm, settings)
    cycle = results[CycleTimeCalculator]
    cfd = results[CFDCalculator]
    throughput = results[ThroughputCalculator]
    wip = results[WIPChartCalculator]

    # Read-out 1: the per-ticket dates JAM's CFD (and so its WIP) counts, i.e. the cycle data
    # after the first two steps of calculators/cfd.calculate_cfd_data (truncate to day, then
    # back-fill a skipped column with the next column's date).
    dates = pd.DataFrame(
        cycle[names].values.astype("<M8[ns]").astype("<M8[D]").astype("<M8[ns]"),
        columns=names,
        index=cycle.index,
    ).fillna(method="bfill", axis=1)

    # JAM 0.24 bug check (calculate_cfd_data): it cumsums the per-column value_counts in the
    # order pd.concat leaves them and only then sorts by date. When every column has the same
    # set of dates, concat keeps value_counts' count-descending order and the CFD is wrong.
    concat_index = pd.concat({c: dates[c].value_counts() for c in names}, axis=1).index
    anomalies = []
    if len(concat_index) and not concat_index.is_monotonic_increasing:
        anomalies.append(
            "jam-cfd-unsorted-cumsum: JAM 0.24 calculate_cfd_data cumulated counts before "
            "sorting dates (every CFD column has the same set of dates); its cfd/bands/wip "
            "are wrong for this input. Vary the input (e.g. leave one ticket open)."
        )

    out_tickets = []
    for idx, row in cycle.iterrows():
        ct = row["cycle_time"]
        out_tickets.append(
            {
                "ticket_id": row["key"],
                "status": row["status"],
                "columns": {n: day(row[n]) for n in names},
                "committed": day(dates.at[idx, settings["committed_column"]]),
                "done": day(dates.at[idx, settings["done_column"]]),
                "completed": day(row["completed_timestamp"]),
                "cycle_time_days": None if ct is None or ct != ct else int(ct.days),
            }
        )

    cfd_rows, band_rows = [], []
    for d, r in cfd.iterrows():
        for i, n in enumerate(names):
            cfd_rows.append({"day": day(d), "state": n, "tickets": int(r[n])})
            # Read-out 2: tickets whose (backfilled) furthest column on day d is exactly n.
            nxt = int(r[names[i + 1]]) if i + 1 < len(names) else 0
            band_rows.append({"day": day(d), "state": n, "tickets": int(r[n]) - nxt})

    return {
        "jam": {
            "version": importlib.metadata.version("jira-agile-metrics"),
            "pandas": pd.__version__,
            "numpy": importlib.metadata.version("numpy"),
        },
        "now": inp["now"],
        "config": {
            "cycle": [
                {"name": s["name"], "statuses": list(s["statuses"]), "type": s["type"]} for s in settings["cycle"]
            ],
            "backlog_column": settings["backlog_column"],
            "committed_column": settings["committed_column"],
            "final_column": settings["final_column"],
            "done_column": settings["done_column"],
            "throughput_frequency": settings["throughput_frequency"],
        },
        "tickets": out_tickets,
        "cfd": cfd_rows,
        "bands": band_rows,
        "wip": [{"day": day(d), "wip": int(v)} for d, v in wip["wip"].items()],
        "throughput": [{"day": day(d), "done": int(v)} for d, v in throughput["count"].items()],
        "anomalies": anomalies,
    }


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")  # JAM imports matplotlib.pyplot
    warnings.simplefilter("ignore")  # pandas/matplotlib deprecation noise from JAM's code
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("jira_agile_metrics").setLevel(logging.ERROR)
    version = importlib.metadata.version("jira-agile-metrics")
    if version != JAM_VERSION:
        print(
            f"oracle: needs jira-agile-metrics {JAM_VERSION}, found {version} "
            "(run scripts/jam-env.sh and use .venv-jam/bin/python)",
            file=sys.stderr,
        )
        return 1
    try:
        inp = json.load(sys.stdin)
        out = run(inp)
    except json.JSONDecodeError as e:
        print(f"oracle: input is not JSON: {e}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"oracle: invalid input: {e}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
