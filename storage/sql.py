"""Dialect-aware INSERT … ON CONFLICT helpers shared by the repository modules."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    Subquery,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.held import write


def _dialect_insert(table: Any, dialect: str) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _insert(session: AsyncSession, model: type[SQLModel]) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    return _dialect_insert(table, session.get_bind().dialect.name)


_BUILT: dict[tuple[Any, ...], Any] = {}


def built_once(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The statement of this shape, built the first time it is asked for.

    Building a statement (an INSERT … ON CONFLICT with its VALUES and `excluded`
    columns, an UPDATE with its SET) costs more Python than running it, and some run for
    every event a person sends; values then travel as parameters (`bound`, `parameters`).
    """
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = build()
    return statement


def bound(names: Sequence[str]) -> dict[str, Any]:
    """A parameter per column, named apart from the column (SQLAlchemy keeps those names
    for itself); in VALUES or SET each takes its column's type, so datetimes and JSON are
    bound as the column binds them."""
    return {name: bindparam(f"v_{name}") for name in names}


def parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of `bound` columns, for these values."""
    return {f"v_{name}": value for name, value in values.items()}


def _table_name(model: type[SQLModel]) -> str:
    return str(model.__table__.name)  # type: ignore[attr-defined]


def _values(table: Any, names: tuple[str, ...], dialect: str) -> Any:
    return _dialect_insert(table, dialect).values(bound(names))


def _insert_ignore_statement(
    dialect: str, model: type[SQLModel], names: tuple[str, ...], unique: tuple[str, ...]
) -> Any:
    """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING 1, built once per shape: a
    row comes back only when the insert added it."""

    def build() -> Any:
        table = model.__table__  # type: ignore[attr-defined]
        # RETURNING rather than rowcount: psycopg's async cursor reports -1 for this.
        return (
            _values(table, names, dialect)
            .on_conflict_do_nothing(index_elements=list(unique))
            .returning(literal_column("1"))
        )

    return built_once(("insert_ignore", dialect, model, names, unique), build)


async def insert_ignore(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    unique: Sequence[str],
    *,
    hold: bool = False,
) -> bool:
    """Insert a row unless one with the same unique key exists.

    Args:
        hold: for a row that is new but for a rare race: in a transaction that holds
            writes (`storage.held`) the insert is held, and a row already there fails
            the transaction when the held writes run.

    Returns:
        True when this call inserted the row (or holds it); False when it was already
        there.
    """
    dialect = session.get_bind().dialect.name
    statement = _insert_ignore_statement(dialect, model, tuple(values), tuple(unique))
    params = parameters(values)
    if hold:
        return await write(session, statement, _table_name(model), params, must_insert=True)
    return (await session.exec(statement, params=params)).first() is not None


def _upsert_statement(
    dialect: str,
    model: type[SQLModel],
    names: tuple[str, ...],
    unique: tuple[str, ...],
    update: tuple[str, ...],
    when_changed: tuple[str, ...],
) -> Any:

    def build() -> Any:
        table = model.__table__  # type: ignore[attr-defined]
        statement = _values(table, names, dialect)
        changed = [
            cast(table.c[name], Text).is_distinct_from(cast(statement.excluded[name], Text))
            for name in when_changed
        ]
        return statement.on_conflict_do_update(
            index_elements=list(unique),
            set_={column: statement.excluded[column] for column in update},
            where=or_(*changed) if changed else None,
        )

    return built_once(("upsert", dialect, model, names, unique, update, when_changed), build)


async def upsert(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    unique: Sequence[str],
    update: Sequence[str],
    *,
    when_changed: Sequence[str] = (),
) -> None:
    """Insert a row, or update `update` columns of the row with the same unique key.

    Args:
        when_changed: update only when one of these columns differs from what is
            stored (compared as text, so JSON too): nothing is written otherwise.
    """
    statement = _upsert_statement(
        session.get_bind().dialect.name,
        model,
        tuple(values),
        tuple(unique),
        tuple(update),
        tuple(when_changed),
    )
    await write(session, statement, _table_name(model), parameters(values))


ROWS = "row_set"
"""The name of the one parameter that carries a row set's rows."""


@dataclass(frozen=True)
class RowSet:
    """Many rows as one derived table: run a statement over `table` with `params`.

    The rows travel as the execution's parameter, never inside the statement:
    SQLAlchemy caches each compiled statement with the statement it came from, and
    would keep a slot's megabytes of rows alive for the life of the process.
    """

    table: Subquery
    params: dict[str, str]


def rows_source(
    session: AsyncSession,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
) -> RowSet:
    """Many rows as one derived table, sent to the database as a single JSON parameter.

    A statement over it stays one statement with one parameter however many rows
    there are; a multi-row VALUES needs a parameter per cell, and 10,000 check-ins
    would pass both SQLite's and PostgreSQL's limits. Each value first goes through
    its column type's own bind processing, so what is stored is exactly what an
    ordinary INSERT of that column stores (SQLite's text form of a datetime included).

    Args:
        session: the session whose database decides the SQL dialect.
        model: the table whose columns `columns` names (their types are used).
        rows: one mapping per row, with a value for every name in `columns`.
        columns: the derived table's columns.

    Returns:
        A subquery with one column per name in `columns`, typed like the table's, and
        the parameters to execute a statement over it with.
    """
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect
    postgres = dialect.name == "postgresql"
    # PostgreSQL reads ISO datetimes and nested JSON back from the document itself
    # (psycopg's own processors wrap values for its wire format, not for JSON).
    processors = {
        name: None if postgres else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    }
    document = json.dumps(
        [
            {
                name: process(row[name]) if process is not None else row[name]
                for name, process in processors.items()
            }
            for row in rows
        ],
        default=_json_value,
        separators=(",", ":"),
    )
    parameter = bindparam(ROWS, type_=String())
    if postgres:
        records = (
            func.json_to_recordset(cast(parameter, postgresql.JSON))
            .table_valued(*(column(name, table.c[name].type) for name in columns))
            .render_derived(name="rows", with_types=True)
        )
        derived = select(*(records.c[name] for name in columns)).subquery()
    else:
        items = func.json_each(parameter).table_valued("value")
        derived = (
            select(
                *(
                    type_coerce(
                        func.json_extract(items.c.value, f"$.{name}"), table.c[name].type
                    ).label(name)
                    for name in columns
                )
            )
            .where(true())
            .subquery()
        )
    return RowSet(derived, {ROWS: document})


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("a datetime in a row set must carry its time zone")
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a row set")


async def insert_rows(
    session: AsyncSession,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    *,
    unique: Sequence[str],
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert many rows in one statement, skipping (or updating) those whose key exists.

    Columns missing from `rows` take their Python-side defaults. Rows whose unique
    key is already stored, or repeats an earlier row of the same call, are skipped
    when `update` is empty; otherwise their `update` columns are overwritten.

    Args:
        session: the session to run in.
        model: the table.
        rows: the rows, every one with the same keys.
        unique: the columns of the unique key that decides a conflict.
        update: the columns to overwrite on a conflict (none: skip the row).
        returning: columns to return for each row this call inserted (or updated).

    Returns:
        One row of `returning` values per row written; empty when `returning` is.
    """
    if not rows:
        return []
    names = list(rows[0])
    source = rows_source(session, model, rows, names)
    table = model.__table__  # type: ignore[attr-defined]
    statement = _insert(session, model).from_select(
        names, select(*(source.table.c[name] for name in names)).where(true())
    )
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(unique),
            set_={name: statement.excluded[name] for name in update},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(unique))
    if not returning:
        await session.exec(statement, params=source.params)
        return []
    result = await session.exec(
        statement.returning(*(table.c[name] for name in returning)), params=source.params
    )
    return [tuple(row) for row in result.all()]
