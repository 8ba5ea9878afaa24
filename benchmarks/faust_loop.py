"""Ceiling for landing: a plain Faust agent loop over the same topic, doing no work.

The same Faust settings as the worker (raw serializers, memory store, earliest offsets) and a
fresh consumer group; the agent only counts `stream.events()`. When it has seen --count
events it writes {"first_event": t, "done": t, "seen": n} (wall-clock seconds) to --result
and ends the process at once. Session timeout 2 s: the embedded broker (Tansu) holds a
group join for half of it. Run as its own process, as the worker is:
python -m benchmarks.faust_loop --server 127.0.0.1:9092 --topic bench.transitions --count 1000000
  --datadir /tmp/loop --result /tmp/loop/result.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="host:port of the broker")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--datadir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args(argv)

    import faust  # here, so --help needs no Faust

    from flowcore.settings import faust_broker

    app = faust.App(
        f"bench-loop-{uuid.uuid4().hex[:8]}",
        broker=faust_broker(args.server),
        autodiscover=False,
        store="memory://",
        datadir=str(args.datadir),
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=2.0,
        broker_heartbeat_interval=0.5,
        topic_partitions=args.partitions,
        web_enabled=False,
    )
    topic = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    state = {"seen": 0, "first": 0.0}

    @app.agent(topic, concurrency=1)
    async def count(stream):  # noqa: ANN001 (a Faust stream)
        async for _event in stream.events():
            if not state["seen"]:
                state["first"] = time.time()
            state["seen"] += 1
            if state["seen"] >= args.count:
                done = time.time()
                tmp = args.result.with_suffix(".tmp")
                tmp.write_text(json.dumps({"first_event": state["first"], "done": done, "seen": state["seen"]}))
                tmp.replace(args.result)
                sys.stdout.flush()
                os._exit(0)  # no shutdown: what is measured ends here

    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def run(server: str, topic: str, count: int, parent: Path, timeout: float) -> tuple[float, float]:
    """Run the loop as a subprocess: (seconds from process start to `count` events seen,
    seconds from the first event seen to the last)."""
    workdir = Path(os.path.realpath(parent)) / f"faust-loop-{uuid.uuid4().hex[:8]}"
    workdir.mkdir(parents=True)
    result = workdir / "result.json"
    argv = [
        sys.executable,
        "-m",
        "benchmarks.faust_loop",
        "--server",
        server,
        "--topic",
        topic,
        "--count",
        str(count),
        "--datadir",
        str(workdir / "data"),
        "--result",
        str(result),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    with (workdir / "faust-loop.log").open("wb") as log:
        started = time.time()
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(
                f"the plain Faust loop did not see {count:,} events within {timeout:.0f} s; "
                f"see {workdir / 'faust-loop.log'}"
            ) from None
        if process.returncode != 0 or not result.exists():
            tail = (workdir / "faust-loop.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"the plain Faust loop exited with {process.returncode}:\n{tail}")
        report = json.loads(result.read_text())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)
    return report["done"] - started, report["done"] - report["first_event"]


if __name__ == "__main__":
    main()
