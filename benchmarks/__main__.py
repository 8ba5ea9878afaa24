"""Every benchmark scenario in one run, each next to its ceiling or baseline, into benchmarks/RESULTS.md.

Starts one embedded broker (Tansu) for the whole run; every scenario uses fresh topics and
fresh stores under a scratch directory that is removed at the end, also after an error or
Ctrl-C. --scale multiplies every size (1.0 = the sizes of the benchmarks issue: 1,000,000
transitions landed, 2,000 events/s for 60 s, a 1,000,000-line backfill, views at 10 million
transitions, 1 million open tickets; 30 s quiet then 30 s of hostile queries; 15 runs of each
start-up command). Progress lines go to stdout as it runs.
Run: python -m benchmarks [--scale 1.0] [--repeats 3] [--only landing,freshness,backfill,views,memory,hostile,startup]
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from benchmarks.report import Progress, Section, machine, now_utc, render
from benchmarks.scenarios import ORDER, Context
from streams.broker import EmbeddedBroker

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size (default 1.0)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per figure (views: always 5 runs)")
    parser.add_argument("--only", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where RESULTS.md goes")
    parser.add_argument("--timeout", type=float, default=1800, help="longest single wait, seconds")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(ORDER))
    if unknown or not only:
        parser.error(f"--only takes names among {', '.join(ORDER)}; got {args.only!r}")
    if args.scale <= 0 or args.repeats < 1 or args.timeout <= 0:
        parser.error("--scale, --repeats and --timeout must be positive")
    args.only = [name for name in ORDER if name in only]
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a kill cleans up as Ctrl-C does
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    say = Progress()
    started = now_utc()
    machine_lines = machine()
    say(f"benchmarks: {', '.join(args.only)} at scale {args.scale:g}, {args.repeats} repeat(s)")
    for line in machine_lines:
        print(f"  {line}")
    root = Path(tempfile.mkdtemp(prefix="flowmeter-benchmarks-"))
    broker = EmbeddedBroker(log_path=root / "broker.log")
    ctx: Context | None = None
    sections: list[Section] = []
    try:
        broker.start()
        say(f"embedded broker on {broker.url}; scratch directory {root}")
        ctx = Context(broker.url.removeprefix("kafka://"), root, args.scale, args.repeats, args.timeout, say)
        for name in args.only:
            say(f"{name}: starting")
            section = importlib.import_module(f"benchmarks.scenarios.{name}").run(ctx)
            sections.append(section)
            say(f"{name}: done")
            print("\n".join(section.table()), flush=True)
    except KeyboardInterrupt:
        say("interrupted: stopping workers and the broker, removing the scratch directory")
        return 130
    finally:
        if ctx is not None:
            ctx.close()
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    text = render(
        sections,
        started=started,
        seconds=say.elapsed,
        scale=args.scale,
        repeats=args.repeats,
        machine_lines=machine_lines,
        command=command.strip(),
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
