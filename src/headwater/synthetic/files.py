"""File sinks: CSV (optionally split into chunk files), JSON record files, access logs.

Each writes a DuckDB relation with DuckDB's own COPY (or, for line formats, lines built in SQL),
so no Python loop touches the rows. Optional malformed lines are chosen by a hash of (seed, file,
line number) at a given rate; the sinks return which lines they broke, so a test can expect
exactly those in quarantine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater import duck
from headwater.synthetic.messy import malformed_line_sql
from headwater.synthetic.sqltext import lit, uniform_sql


@dataclass(frozen=True)
class Written:
    path: Path
    rows: int
    malformed_lines: tuple[int, ...] = field(default=())
    """1-based line numbers (header included) that were broken on purpose."""


def _columns(con: Any, relation: str, columns: Sequence[str] | None) -> str:
    if columns is None:
        return "*"
    return ", ".join(duck.quote(c) for c in columns)


def write_csv(
    con: Any,
    relation: str,
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    order_by: Sequence[str] = (),
    chunks: int = 1,
    delimiter: str = ",",
    header: bool = True,
    timestamp_format: str = "%Y-%m-%d %H:%M:%S",
    date_format: str = "%Y-%m-%d",
    malformed_rate: float = 0.0,
    seed: int = 0,
) -> list[Written]:
    """Write ``relation`` as CSV; with ``chunks`` > 1 as ``<stem>_001<suffix>`` ... of about
    equal size, in ``order_by`` order (each chunk with its own header). Returns what was written."""
    if chunks < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = ", ".join(duck.quote(c) for c in order_by) or "1"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _hw_csv AS SELECT {_columns(con, relation, columns)}, "
        f"(row_number() OVER (ORDER BY {order}) - 1) AS _hw_rn FROM {relation}"
    )
    total = int(duck.scalar(con, "SELECT count(*) FROM _hw_csv"))
    names = [r[0] for r in con.execute("DESCRIBE _hw_csv").fetchall() if r[0] != "_hw_rn"]
    select = ", ".join(duck.quote(c) for c in names)
    out = []
    for i in range(chunks):
        target = path if chunks == 1 else path.with_name(f"{path.stem}_{i + 1:03d}{path.suffix}")
        lo, hi = total * i // chunks, total * (i + 1) // chunks
        options = (
            f"FORMAT csv, HEADER {str(header).lower()}, DELIMITER {lit(delimiter)}, "
            f"TIMESTAMPFORMAT {lit(timestamp_format)}, DATEFORMAT {lit(date_format)}"
        )
        con.execute(
            f"COPY (SELECT {select} FROM _hw_csv WHERE _hw_rn >= {lo} AND _hw_rn < {hi} ORDER BY _hw_rn) "
            f"TO {duck.literal(str(target))} ({options})"
        )
        broken: tuple[int, ...] = ()
        if malformed_rate > 0:
            broken = _break_lines(con, target, malformed_rate, seed, delimiter, skip=1 if header else 0)
        out.append(Written(target, hi - lo, broken))
    con.execute("DROP TABLE _hw_csv")
    return out


def write_json(con: Any, relation: str, path: str | Path, *, order_by: Sequence[str] = ()) -> Written:
    """``relation`` as one JSON array of objects (what an API page or a dump holds); timestamps
    as ISO 8601 text with a ``T``, as APIs send them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = ", ".join(duck.quote(c) for c in order_by) or "1"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _hw_json AS SELECT * FROM {relation} ORDER BY {order}")
    types = con.execute("DESCRIBE _hw_json").fetchall()
    select = ", ".join(
        f"strftime({duck.quote(n)}, '%Y-%m-%dT%H:%M:%S') AS {duck.quote(n)}"
        if t.startswith("TIMESTAMP")
        else duck.quote(n)
        for n, t, *_ in types
    )
    rows = int(duck.scalar(con, "SELECT count(*) FROM _hw_json"))
    con.execute(
        f"COPY (SELECT {select} FROM _hw_json) TO {duck.literal(str(path))} (FORMAT json, ARRAY true)"
    )
    con.execute("DROP TABLE _hw_json")
    return Written(path, rows)


ACCESS_LOG_COLUMNS = (
    "ip",
    "user_name",
    "requested_at",
    "method",
    "path",
    "protocol",
    "status",
    "bytes",
    "referrer",
    "user_agent",
)


def write_access_log(
    con: Any,
    relation: str,
    path: str | Path,
    *,
    malformed_rate: float = 0.0,
    seed: int = 0,
) -> Written:
    """Web-server access log lines in the combined log format, in ``requested_at`` order::

        203.0.113.9 - - [01/Mar/2024:09:15:02 +0000] "GET /p/42 HTTP/1.1" 200 5120 "-" "Mozilla/5.0"

    ``relation`` has the columns of :data:`ACCESS_LOG_COLUMNS` (``user_name``, ``bytes`` and
    ``referrer`` may be NULL: written as ``-``); ``requested_at`` is a UTC timestamp.
    """
    missing = set(ACCESS_LOG_COLUMNS) - {
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    }
    if missing:
        raise ValueError(f"an access log needs the columns {sorted(missing)}")
    line = (
        "ip || ' - ' || coalesce(user_name::VARCHAR, '-') "
        "|| ' [' || strftime(requested_at, '%d/%b/%Y:%H:%M:%S +0000') "
        "|| '] \"' || method || ' ' || path || ' ' || protocol || '\" ' || status::VARCHAR || ' ' "
        "|| coalesce(bytes::VARCHAR, '-') || ' \"' || coalesce(referrer::VARCHAR, '-') "
        "|| '\" \"' || user_agent || '\"'"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _hw_lines AS SELECT {line} AS line FROM {relation} "
        "ORDER BY requested_at, ip, path"
    )
    return _write_lines(con, Path(path), malformed_rate, seed, " ", skip=0)


def _break_lines(
    con: Any, path: Path, rate: float, seed: int, delimiter: str, *, skip: int
) -> tuple[int, ...]:
    # The file's lines, read back as text (a delimiter and quote no CSV line holds).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _hw_lines AS SELECT line FROM read_csv({duck.literal(str(path))}, "
        "columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '', escape = '', header = false, "
        "auto_detect = false, strict_mode = false)"
    )
    return _write_lines(con, path, rate, seed, delimiter, skip=skip).malformed_lines


def _write_lines(con: Any, path: Path, rate: float, seed: int, delimiter: str, *, skip: int) -> Written:
    """Write ``_hw_lines(line)`` in order, breaking about ``rate`` of the lines after ``skip``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draw = uniform_sql(f"n, {int(seed)}::BIGINT, {lit(path.name)}")
    kind = uniform_sql(f"n, {int(seed)}::BIGINT, {lit(path.name + '#kind')}")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _hw_out AS
        WITH n AS (SELECT line, row_number() OVER () AS n FROM _hw_lines)
        SELECT n, n > {int(skip)} AND {draw} < {float(rate)!r} AS broken,
            CASE WHEN n > {int(skip)} AND {draw} < {float(rate)!r}
                 THEN {malformed_line_sql("line", kind, delimiter)} ELSE line END AS line
        FROM n
        """
    )
    broken = tuple(int(r[0]) for r in con.execute("SELECT n FROM _hw_out WHERE broken ORDER BY n").fetchall())
    lines = con.execute("SELECT coalesce(line, '') AS line FROM _hw_out ORDER BY n").to_arrow_table()
    text = lines.column("line").to_pylist()
    # One write of the joined text: the lines were built in SQL, Python only concatenates.
    path.write_text("\n".join(text) + "\n" if text else "", encoding="utf-8")
    rows = len(text)
    con.execute("DROP TABLE _hw_out")
    con.execute("DROP TABLE _hw_lines")
    return Written(path, rows, broken)
