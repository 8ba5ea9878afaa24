"""A store with fm_now() pinned, read on the connection that sees the pin.

Views that depend on "now" call fm_now() (analytics/sql/macros.sql), so a test pins it with a
temporary macro. A temporary macro exists only on the connection that defines it, the store's
writer connection, and Store.read uses fresh cursors that do not see it; so pinned tests define
and query through Store.in_transaction, the public way onto the writer connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analytics.store import Store


def pin_now(store: Store, now: datetime | str) -> None:
    """From here on fm_now() is `now` (a naive UTC time) on the store's writer connection."""
    moment = now.strftime("%Y-%m-%d %H:%M:%S") if isinstance(now, datetime) else now
    store.in_transaction(lambda con: con.execute(f"CREATE OR REPLACE TEMP MACRO fm_now() AS TIMESTAMP '{moment}'"))


def writer_rows(store: Store, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple]:
    """The rows of one query on the writer connection (where a pinned fm_now() holds)."""
    return store.in_transaction(lambda con: con.execute(sql, params).fetchall())
