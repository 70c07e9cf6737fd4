"""Insert many rows in the caller's transaction: COPY on PostgreSQL, executemany elsewhere; and
look many values up with one array parameter on PostgreSQL.

COPY streams the rows to the server in one statement; it is several times faster than an
executemany of INSERTs for batches of thousands. The rows must be stored exactly as SQLAlchemy
would store them, so what SQLAlchemy does for an INSERT is done here by hand: JSON columns get
``json.dumps`` of their value (``None`` too: a JSON column keeps ``null``, not SQL NULL, unless
``none_as_null``), and columns left out get their Python-side defaults. Server-side defaults and
sequences are left to the server, as with an INSERT.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, JSON, Column, ColumnElement, Connection, Table, any_, bindparam


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` within ``conn``'s transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(table.insert(), list(rows))
        return
    from psycopg import sql  # an optional dependency (the postgres extra)

    names = list(rows[0])
    defaults = {
        c.name: _python_default(c)
        for c in table.columns
        if c.name not in names and c.default is not None and not c.primary_key
    }
    columns = [table.c[name] for name in names] + [table.c[name] for name in defaults]
    encoders = [(k, _json_encoder(c)) for k, c in enumerate(columns) if isinstance(c.type, JSON)]
    extra = list(defaults.values())
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    driver = conn.connection.driver_connection
    if driver is None:  # pragma: no cover - a live connection always has one
        raise RuntimeError("the connection has no driver connection")
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in names] + extra
            for k, encode in encoders:
                values[k] = encode(values[k])
            copy.write_row(values)


def column_in(conn: Connection, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one parameter in place of
    thousands (which SQLAlchemy and the driver would otherwise expand and parse one by one)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def plan_each_statement(conn: Connection) -> None:
    """On PostgreSQL, plan each statement of this transaction for its own parameters.

    A bulk load runs the same key lookup hundreds of times while the table grows from nothing.
    The driver prepares repeated statements, and the server may then settle on a generic plan
    costed for the empty table: a full scan per batch, quadratic in the file (seen: 8 s a batch
    at 500,000 rows). ``SET LOCAL`` ends with the transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def _python_default(column: Column[Any]) -> Any:
    default: Any = column.default
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps callables to take the execution context
    raise NotImplementedError(f"COPY cannot compute the default of {column.table}.{column.name}")


def _json_encoder(column: Column[Any]) -> Any:
    if column.type.none_as_null:  # type: ignore[attr-defined]
        return lambda v: None if v is None else json.dumps(v)
    return json.dumps
