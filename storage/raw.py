"""The statements every update runs, compiled once and run on the database driver itself.

A Core statement executed through SQLAlchemy costs about 60 to 100 microseconds of Python on
this path (execution context, parameter processing, the result object; on PostgreSQL also a
greenlet switch and the asyncpg adapter) for a statement that SQLite runs in 5 to 10. The
statements each update runs (the conversation read and versioned write, the inbox mark, the
owed messages, the live question) are therefore marked `hot`: they stay ordinary Core
statements, defined once in the repositories, but each is compiled once per dialect into its
SQL text, parameter order and type processors, and run on the sqlite3 cursor of SQLite's
inline connection (`storage.uow.InlineConnection`) or on the asyncpg connection under a
PostgreSQL unit of work (`storage.uow.PostgresConnection`), in the same unit of work as
everything else. Any other statement goes through SQLAlchemy as before.

Writes whose answer is needed no sooner than the commit go through `write`: a PostgreSQL unit
of work may hold them and send them at its commit as one statement (`combined`), where a
round trip costs more than the statements themselves.

Values go through the same type processors SQLAlchemy applies (JSON, the UTC timestamps), and
errors come out as SQLAlchemy raises them, so a row written one way reads back the same the other
way; `tests/test_hot_path.py` checks that on both backends.
"""
from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.schema import Table
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.visitors import iterate

Processor = Callable[[Any], Any] | None
S = TypeVar("S", bound=ClauseElement)

# The statements marked hot, by identity (they are built once, at import or once per dialect,
# and live as long as the process), and what each compiles to on the dialect that ran it.
_HOT: set[int] = set()
_LOCKING: set[int] = set()  # hot statements that take locks a transaction must hold
_COMPILED: dict[tuple[int, str, str], RawStatement] = {}


def hot(statement: S, *, locks: bool = False) -> S:
    """Mark a statement built once as one every update runs (see the module's docstring).
    `locks`: it takes locks (FOR UPDATE, an advisory lock) that only a transaction holds, so
    it never runs on its own outside one."""
    _HOT.add(id(statement))
    if locks:
        _LOCKING.add(id(statement))
    return statement


def compiled_for(statement: Any, dialect: Dialect) -> RawStatement | None:
    """The statement compiled for the driver, or None when it is not hot (SQLAlchemy runs it)."""
    key = (id(statement), dialect.name, dialect.driver)
    raw = _COMPILED.get(key)
    if raw is None and id(statement) in _HOT:
        raw = _COMPILED[key] = RawStatement(statement, dialect)
    return raw


class RawStatement:
    """One statement's SQL text, the order of its parameters with their bind processors, any
    defaults it carries, and the row shape and result processors of what it returns."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        names: Sequence[str] = compiled.positiontup or ()
        binds = compiled.binds
        self.sql: str = compiled.string
        self.paramstyle: str = dialect.paramstyle
        self.expanding: str | None = None
        for name in names:
            if binds[name].expanding:
                if self.expanding is not None or len(names) != 1:
                    raise ValueError("a hot statement may expand one parameter, on its own")
                self.expanding = name
        # (name, bind processor) in the order the SQL takes its parameters.
        self._plan: list[tuple[str, Processor]] = [
            (n, _datetime_processor(binds[n].type, dialect) if _is_datetime(binds[n].type) else
             binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]
        self.defaults = {n: binds[n].effective_value for n in names
                         if not binds[n].required and binds[n].callable is None}
        columns = list(getattr(statement, "selected_columns", None) or
                       getattr(statement, "exported_columns", None) or ())
        self.row_type: type[tuple[Any, ...]] | None = None
        self.results: list[Processor] = []
        if columns:
            self.row_type = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
            self.results = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                            for c in columns]
        self._any_result = any(p is not None for p in self.results)
        self._expanded: dict[int, str] = {}
        # What `storage.uow.PostgresConnection` needs to hold a write for its commit: whether
        # it writes, the tables it reads or writes, and whether it may be one part of a
        # combined statement (one with a WITH of its own may not: data-modifying WITHs must be
        # at the top level).
        self.writes: bool = bool(getattr(statement, "is_dml", False))
        self.locks = id(statement) in _LOCKING
        self.tables: frozenset[str] = frozenset(
            e.name for e in iterate(statement) if isinstance(e, Table))
        self.combinable = self.writes and not self.sql.lstrip().upper().startswith("WITH") \
            and len(columns) <= 1 and self.expanding is None

    def parameters(self, given: Mapping[str, Any]) -> list[Any]:
        values = {**self.defaults, **given} if self.defaults else given
        try:
            out = [values[name] if process is None else process(values[name])
                   for name, process in self._plan]
        except (TypeError, ValueError, KeyError) as error:
            # A value its column's type refuses: raised as SQLAlchemy raises it.
            raise StatementError(f"({type(error).__name__}) {error}", self.sql, given,
                                 error) from error
        return out

    def run(self, cursor: Any, parameters: Any) -> RawResult:
        if self.expanding is not None:
            return self._run_expanding(cursor, parameters)
        if isinstance(parameters, Mapping) or parameters is None:
            cursor.execute(self.sql, self.parameters(parameters or {}))
            rows = cursor.fetchall() if self.row_type is not None else []
            return RawResult(self.rows(rows), cursor.rowcount)
        got: list[Any] = []  # several parameter sets: one execution each, rows in that order
        count = 0
        for one in parameters:
            cursor.execute(self.sql, self.parameters(one))
            if self.row_type is not None:
                got += cursor.fetchall()
            count += cursor.rowcount
        return RawResult(self.rows(got), count)

    def _expand(self, parameters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and values of a statement whose one parameter is a list (`IN (...)`)."""
        assert self.expanding is not None
        values = list(parameters[self.expanding])
        sql = self._expanded.get(len(values))
        if sql is None:
            marker = f"__[POSTCOMPILE_{self.expanding}]"
            places = ("?" * len(values) if self.paramstyle == "qmark" else
                      [f"${n}" for n in range(1, len(values) + 1)])
            sql = self._expanded[len(values)] = self.sql.replace(marker, ", ".join(places))
        process = self._plan[0][1]
        return sql, values if process is None else [process(v) for v in values]

    def _run_expanding(self, cursor: Any, parameters: Mapping[str, Any]) -> RawResult:
        sql, values = self._expand(parameters)
        if not values:
            return RawResult([], 0)
        cursor.execute(sql, values)
        return RawResult([], cursor.rowcount)

    def prepare(self, parameters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and the values in its order, for one parameter set (asyncpg's `$n` style)."""
        if self.expanding is not None:
            return self._expand(parameters)
        return self.sql, self.parameters(parameters)

    async def run_prepared(self, connection: Any, sql: str, values: list[Any]) -> RawResult:
        """Run `prepare`'s output on an asyncpg connection: `fetch` when the statement returns
        rows, else `execute`, whose status ("UPDATE 1") carries the row count."""
        if self.expanding is not None and not values:
            return RawResult([], 0)  # IN () matches nothing
        if self.row_type is not None:
            rows = await connection.fetch(sql, *values)
            return RawResult(self.rows(rows), len(rows))
        status = await connection.execute(sql, *values)
        return RawResult([], int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0)

    def rows(self, rows: Sequence[Any]) -> list[Any]:
        """Rows as the driver returned them, as this statement's rows (processed, named)."""
        make = self.row_type
        if make is None:
            return []
        if not self._any_result:
            return [make(*row) for row in rows]
        results = self.results
        return [make(*(v if p is None else p(v) for v, p in zip(row, results, strict=True)))
                for row in rows]


# PostgreSQL: the SQLSTATE that `linkpilot_expect` (migration 0012) raises when a part of a
# combined statement changed other than the rows expected; its DETAIL is the part's number.
EXPECT_SQLSTATE = "LP001"
_PLACEHOLDER = re.compile(r"\$(\d+)")
_COMBINED: dict[tuple[tuple[str, int, bool, int | None], ...], str] = {}
_COMBINED_KEPT = 256  # distinct combinations remembered (a handful occur)


def combined(parts: Sequence[tuple[str, int, bool, int | None]]) -> str:
    """PostgreSQL: several writes as one statement, each a data-modifying WITH of it, so that
    they take one round trip and, run on their own, commit or fail together.

    Each part is (its SQL, how many `$n` values it takes, whether it returns a column, the
    row count it must change or None). The statement returns one row: for each part in turn,
    the array of the column it returns (if it does), then its row count (if one is
    expected). A count other than the one expected fails the whole statement (EXPECT_SQLSTATE,
    from `linkpilot_expect`), and with it every part. The parts run on one snapshot: none
    sees another's rows, so they must touch different tables (the caller's rule)."""
    key = tuple(parts)
    sql = _COMBINED.get(key)
    if sql is not None:
        return sql
    withs: list[str] = []
    columns: list[str] = []
    offset = 0
    for n, (text, count, returns, expect) in enumerate(parts):
        if offset:
            text = _shifted(text, offset)
        offset += count
        if returns:
            withs.append(f"w{n}(c) AS ({text})")
            columns.append(f"ARRAY(SELECT c FROM w{n})")
        elif expect is not None:
            withs.append(f"w{n} AS ({text} RETURNING 1)")
        else:
            withs.append(f"w{n} AS ({text})")  # runs although nothing reads it
        if expect is not None:
            columns.append(f"linkpilot_expect((SELECT count(*) FROM w{n}), {int(expect)}, {n})")
    sql = f"WITH {', '.join(withs)} SELECT {', '.join(columns) or 'NULL'}"
    if len(_COMBINED) < _COMBINED_KEPT:
        _COMBINED[key] = sql
    return sql


def _shifted(sql: str, by: int) -> str:
    """The SQL with its parameters `$n` renumbered `$(n + by)`."""
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + by}", sql)


def _is_datetime(type_: Any) -> bool:
    # A TypeDecorator (our UtcDateTime) names no Python type of its own: its impl's counts.
    type_ = getattr(type_, "impl_instance", type_)
    try:
        return type_.python_type is datetime
    except NotImplementedError:
        return False


# One processor per datetime type, shared by every hot statement (see `_once_per_value`).
_DATETIME_PROCESSORS: dict[tuple[type, bool, str], Processor] = {}


def _datetime_processor(type_: Any, dialect: Dialect) -> Processor:
    key = (type(type_), bool(getattr(type_, "timezone", False)), dialect.name)
    if key not in _DATETIME_PROCESSORS:
        _DATETIME_PROCESSORS[key] = _once_per_value(
            type_.dialect_impl(dialect).bind_processor(dialect))
    return _DATETIME_PROCESSORS[key]


def _once_per_value(process: Processor) -> Processor:
    """A datetime's processor that remembers the texts of the last few values: a unit of work
    passes the same `now` to most of its statements (and the owed messages a lease's end
    besides), and formatting it for SQLite is the costly part."""
    if process is None:
        return None
    texts: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        text = texts.get(value)
        if text is None:
            if len(texts) >= _REMEMBERED:
                texts.clear()
            text = texts[value] = process(value)
        return text

    return remembered


_REMEMBERED = 4  # distinct timestamps a unit of work writes, and a margin


class RawResult:
    """The part of SQLAlchemy's Result the repositories use on hot statements."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fill(self, rows: list[Any], rowcount: int) -> None:
        """Results of a write that was held and sent later (`storage.uow.PostgresConnection`)."""
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


Otherwise = Callable[[], Exception]


async def write(conn: Any, statement: Any, parameters: Any, *, expect: int | None = None,
                otherwise: Otherwise | None = None) -> Any:
    """Run a write whose result the caller needs no sooner than the commit: the number of rows
    it must change (`expect`; `otherwise()` is raised if it changes another number, and the
    unit of work's writes are not kept) and the rows it returns (read from the result once
    the unit of work has committed).

    A PostgreSQL unit of work may hold it until it commits and send it with the others in one
    statement (`storage.uow.PostgresConnection.write`); elsewhere it runs now."""
    hold = getattr(conn, "write", None)
    if hold is not None:
        return await hold(statement, parameters, expect=expect, otherwise=otherwise)
    result = await conn.execute(statement, parameters)
    check_count(result.rowcount, expect, otherwise)
    return result


async def read_ahead(conn: Any, statement: Any, parameters: dict[str, Any]) -> None:
    """Send a read whose answer the caller wants a little later, after other work: the same
    statement with the same parameters, run next on `conn`, takes that answer rather than
    asking again. A PostgreSQL unit of work's connection answers meanwhile
    (`storage.uow.PostgresConnection.read_ahead`); elsewhere (SQLite runs on this thread)
    there is nothing to gain and nothing is done."""
    start = getattr(conn, "read_ahead", None)
    if start is not None:
        await start(statement, parameters)


def check_count(count: int, expect: int | None, otherwise: Otherwise | None) -> None:
    if expect is not None and count != expect:
        raise refused(expect, otherwise)


def refused(expect: int | None, otherwise: Otherwise | None) -> Exception:
    """The error of a write that changed other than the `expect` rows it had to."""
    if otherwise is not None:
        return otherwise()
    return LookupError(f"a write changed other than the {expect} rows it had to")
