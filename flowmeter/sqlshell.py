"""The interactive `flowmeter sql` prompt: statements end with `;`, readline history, `\\d` to
list tables and views; reads statements from stdin when it is not a terminal."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from analytics.catalog import documented
from analytics.client import query, source
from flowcore.errors import FlowmeterError
from flowcore.settings import Settings
from flowmeter.render import truncation_note, write_result

HISTORY_FILE = Path("~/.flowmeter_history")
HISTORY_LENGTH = 1000
HELP = r"""End each statement with ';' (it may span lines). Commands:
  \d          tables and views, with what each holds
  \d NAME     the columns of a table or view
  \q          quit (or Ctrl-D)
"""


class Statements:
    """Collects text into statements ending with ';' outside quotes and comments."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._chars: list[str] = []
        self._quote = ""  # the open quote character, if any
        self._comment = ""  # "--" or "/*" while inside one
        self._content = False  # anything but blanks and comments so far

    @property
    def pending(self) -> bool:
        return self._content or bool(self._quote)

    def feed(self, text: str) -> list[str]:
        done, i = [], 0
        while i < len(text):
            c, pair = text[i], text[i : i + 2]
            if self._quote:
                self._quote = "" if c == self._quote else self._quote  # '' re-opens at once: escapes work
            elif self._comment == "--":
                self._comment = "" if c == "\n" else "--"
            elif self._comment == "/*":
                if pair == "*/":
                    self._comment, c, i = "", pair, i + 1
            elif pair in ("--", "/*"):
                self._comment, c, i = pair, pair, i + 1
            elif c in "'\"":
                self._quote, self._content = c, True
            elif c == ";":
                if self._content:
                    done.append("".join(self._chars).strip())
                self._chars, self._content, i = [], False, i + 1
                continue
            elif not c.isspace():
                self._content = True
            self._chars.append(c)
            i += 1
        return done

    def end(self) -> str | None:
        """The statement left without a ';' at the end of input, if any."""
        statement = "".join(self._chars).strip() if self._content else None
        self._reset()
        return statement


def interactive(conf: Settings, fmt: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Read statements until end of input or \\q and run each; return how many failed.

    A terminal gets a `flowmeter> ` prompt with line editing and history; anything else
    (a pipe, a file) is read as statements separated by ';'. An error prints one line and
    reading goes on."""
    pending, failures, tty = Statements(), 0, stdin.isatty()
    if tty:
        stdout.write(f"flowmeter sql on {source(conf)}; \\? for help, \\q to quit.\n")
    for line in _prompt_lines(pending, stdout) if tty else stdin:
        if line is None:  # Ctrl-C at the prompt: drop what was typed
            pending.end()
        elif not pending.pending and line.strip().startswith("\\"):
            if line.strip() == "\\q":
                break
            failures += not _run(functools.partial(_meta, conf, line.strip(), fmt, stdout), stderr)
        else:
            for statement in pending.feed(line if line.endswith("\n") else line + "\n"):
                failures += not _run(functools.partial(_show, conf, statement, fmt, stdout, stderr), stderr)
    if last := pending.end():
        failures += not _run(lambda: _show(conf, last, fmt, stdout, stderr), stderr)
    return failures


def _run(action: Callable[[], None], stderr: TextIO) -> bool:
    try:
        action()
        return True
    except FlowmeterError as exc:
        stderr.write(f"Error: {exc}\n")
    except KeyboardInterrupt:
        stderr.write("cancelled.\n")
    stderr.flush()
    return False


def _show(conf: Settings, statement: str, fmt: str, stdout: TextIO, stderr: TextIO) -> None:
    table, truncated = query(conf, statement)
    write_result(table, fmt, None, stdout)
    if truncated:
        stderr.write(truncation_note(table) + "\n")
        stderr.flush()
    if fmt == "table":
        stdout.write("\n")  # one blank line between results


def _meta(conf: Settings, command: str, fmt: str, stdout: TextIO) -> None:
    word, _, name = command.partition(" ")
    if word == "\\d" and not name.strip():
        listing = pa.table({k: [o[k] for o in documented()] for k in ("name", "kind", "description")})
        write_result(listing, fmt, None, stdout)
    elif word == "\\d":
        described = query(conf, f"SELECT column_name, column_type FROM (DESCRIBE {name.strip()})")[0]
        write_result(described, fmt, None, stdout)
    elif word in ("\\?", "\\h", "\\help"):
        stdout.write(HELP)
        return
    else:
        raise FlowmeterError(f"unknown command {word}; \\? lists the commands.")
    if fmt == "table":
        stdout.write("\n")


def _prompt_lines(pending: Statements, stdout: TextIO) -> Iterator[str | None]:
    """Lines typed at a terminal, edited with readline; a statement typed over several lines
    becomes one history entry. Yields None for Ctrl-C; ends at Ctrl-D."""
    # Here, not at the top: importing readline changes how input() reads a terminal, which only
    # this prompt wants.
    import readline

    history = HISTORY_FILE.expanduser()
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_history_length(HISTORY_LENGTH)
    start = readline.get_current_history_length()
    try:
        while True:
            try:
                line = input("      ...> " if pending.pending else "flowmeter> ")
            except EOFError:
                stdout.write("\n")
                return
            except KeyboardInterrupt:
                stdout.write("\n")
                line = None
            yield line
            if not pending.pending:
                _merge_history(readline, start)
                start = readline.get_current_history_length()
    finally:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)


def _merge_history(readline: Any, start: int) -> None:
    """Replace the history entries added since `start` (1-based after it) by one line."""
    end = readline.get_current_history_length()
    if end - start < 2:
        return
    lines = [readline.get_history_item(i) for i in range(start + 1, end + 1)]
    for _ in lines:
        readline.remove_history_item(start)  # 0-based: the first line of the statement
    readline.add_history(" ".join(line.strip() for line in lines if line))
