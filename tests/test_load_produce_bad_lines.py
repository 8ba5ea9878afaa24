"""`flowmeter load` and `flowmeter produce` never stop on a bad line (issue 13, item 7).

The bad lines are data: tests/attacks/bad_lines.jsonl, one per line, each with what it attacks,
the line (`json`, `text` or `hex`; `expand` repeats a marker for the megabyte and 5,000-level
lines) and a fragment of the reason (`reason`, or `load_reason` / `produce_reason` where the two
commands differ; null means the line is valid there). One file holds them all, each between
two good lines, so each command must go on past every one of them: every good line lands (load)
or reaches its topic (produce), every bad one is a dead letter naming its line and reason, and
the summary counts them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from kafka import KafkaConsumer

from tests.helpers.dead_letters import dead_letter_headers
from tests.helpers.events import transition
from tests.helpers.processes import flowmeter

CASES = [json.loads(line) for line in (Path(__file__).parent / "attacks" / "bad_lines.jsonl").open() if line.strip()]


def line_of(case: dict[str, Any]) -> bytes:
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    text = json.dumps(case["json"]) if "json" in case else case["text"]
    for marker, (piece, times) in case.get("expand", {}).items():
        text = text.replace(marker, piece * times)
    return text.encode()


def reason_for(case: dict[str, Any], command: str) -> str | None:
    return case.get(f"{command}_reason", case.get("reason"))


@pytest.fixture
def hostile_file(tmp_path: Path) -> tuple[Path, dict[int, dict[str, Any]], int]:
    """good, bad 1, good, bad 2, ..., good: (path, {line number: case}, good lines)."""
    lines, bad = [], {}
    for n, case in enumerate(CASES):
        lines.append(json.dumps(transition(n, event_id=f"good-{n}")).encode())
        lines.append(line_of(case))
        bad[len(lines)] = case
    lines.append(json.dumps(transition(999, event_id="good-last")).encode())
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, bad, len(CASES) + 1


def test_load_goes_on_past_every_bad_line(hostile_file, tmp_path):
    path, bad, good = hostile_file
    db = tmp_path / "flow.duckdb"
    result = flowmeter("load", str(path), "--db", str(db), timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    rejected = {number: case for number, case in bad.items() if reason_for(case, "load")}
    landed = good + len(bad) - len(rejected)  # 17 good lines + the bad ones that are valid v1 after all
    assert f"{landed} landed, 0 duplicates, {len(rejected)} dead-lettered" in result.stdout, result.stdout
    assert f"{len(rejected)} lines rejected." in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        stored = dict(con.execute("SELECT src, reason FROM dead_letters").fetchall())
    by_line = {int(src.rsplit(":", 1)[1]): reason for src, reason in stored.items()}
    assert by_line.keys() == rejected.keys()
    for number, case in rejected.items():
        assert reason_for(case, "load") in by_line[number], (case["attack"], by_line[number])
        assert f"dead letter at line {number}: " in result.stdout


@pytest.mark.broker
def test_produce_goes_on_past_every_bad_line(hostile_file, broker, topics):
    path, bad, good = hostile_file
    env = {"FLOWMETER_BROKER": broker, "FLOWMETER_TOPIC_PREFIX": topics["prefix"]}
    result = flowmeter("produce", str(path), env=env, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    rejected = {number: case for number, case in bad.items() if reason_for(case, "produce")}
    sent = good + len(bad) - len(rejected)
    assert f"{sent} to {topics['transitions']}" in result.stdout, result.stdout
    assert f"{len(rejected)} lines dead-lettered ({len(rejected)} rejected" in result.stdout
    letters = dead_letter_headers(broker, topics["dead_letter"], len(rejected))
    by_line = {int(h["flowmeter-source"].rsplit(":", 1)[1]): h["flowmeter-reason"] for h in letters}
    assert by_line.keys() == rejected.keys()
    for number, case in rejected.items():
        assert by_line[number].startswith(f"line {number}: ")
        assert reason_for(case, "produce") in by_line[number], (case["attack"], by_line[number])
    consumer = KafkaConsumer(
        topics["transitions"],
        bootstrap_servers=broker.removeprefix("kafka://"),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    assert sum(1 for _ in consumer) == sent
    consumer.close()
    shown = re.findall(r"^  rejected line (\d+): ", result.stdout, re.M)
    assert sorted(map(int, shown)) == sorted(rejected)  # 16 rejects: all listed (up to 20 are)
