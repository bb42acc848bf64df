"""Faster writes to Dagster's SQLite run and event history (`DAGSTER_HOME`), at the cost of power-loss durability.

Dagster's SQLite storage opens a connection, inserts and commits (one fsync, ~6 ms on this disk) for each
event; a cold build stores about 1,800 events (asset materializations, check results, step outputs). With
`synchronous=OFF` a commit returns once SQLite has handed the page to the operating system (0.14 ms). An
application crash loses nothing; an operating-system crash or power loss can lose or corrupt the most
recent history (delete `.dagster/` to start afresh). The warehouse itself is unaffected: it is published
by an atomic rename of a closed DuckDB file, and the build state lives inside it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

_INSTALLED: list[bool] = []


def relax_sqlite_durability() -> None:
    """Make every SQLite connection SQLAlchemy opens in this process commit without fsync (idempotent)."""
    if _INSTALLED:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("pragma synchronous = OFF")

    event.listen(Engine, "connect", _on_connect)
    _INSTALLED.append(True)
