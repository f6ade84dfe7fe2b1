"""Spec validation of file/API tables: read paths stay inside the source, column types exist.

A path outside the source once loaded /etc/passwd into the warehouse, and an unknown type
(FOOBAR) passed validation and failed at extract with an engine error. Both are refused when
the spec is parsed, with a message naming the table, the field and the fix.
"""

from __future__ import annotations

import duckdb
import pytest

from headwater.errors import SpecError
from headwater.spec import parse_spec


def spec(
    path: str = "orders/*.csv", columns: dict | None = None, kind: str = "files", url: str = "{home}/drop"
):
    read = {"columns": columns or {"id": "BIGINT"}}
    read["endpoint" if kind == "http" else "path"] = path
    return parse_spec(
        {
            "name": "p",
            "source": {"kind": kind, "url": url},
            "tables": [{"name": "t", "primary_key": "id", "read": read}],
        }
    )


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../../../../etc/passwd",
        "orders/../../secrets.csv",
        "*/../../x.csv",
        "~/.ssh/id_rsa.csv",
        "file:///etc/passwd.csv",
        "s3://other-bucket/data.csv",
        "C:\\Windows\\win.ini.csv",
        "..\\..\\x.csv",
    ],
)
def test_a_read_path_outside_the_source_is_refused_at_spec_time(path):
    with pytest.raises(SpecError, match=r"table 't'.*read.path .* it must be a path or glob relative"):
        spec(path, url="s3://bucket/drop" if path.startswith("s3") else "{home}/drop")


def test_the_same_rule_holds_under_an_s3_prefix_and_for_api_endpoints():
    with pytest.raises(SpecError, match="climbs out of the source"):
        spec("../other-team/*.csv", url="s3://bucket/team-a")
    with pytest.raises(SpecError, match="read.endpoint 'http://evil.test/x' is a URL of its own"):
        spec("http://evil.test/x", kind="http", url="http://127.0.0.1:1/api")


@pytest.mark.parametrize("path", ["orders/*.csv", "a/b/../c.csv", "leads/2026-*.xlsx", "**/*.json"])
def test_paths_inside_the_source_are_accepted(path):
    assert spec(path).tables[0].read.path == path


@pytest.mark.parametrize(
    "type_", ["FOOBAR", "VARCHAR2", "INT(11)", "DECIMAL(40,2)", "DECIMAL(4,6)", "MAP", ""]
)
def test_an_unknown_column_type_is_refused_naming_the_column(type_):
    with pytest.raises(SpecError, match=r"read.columns.amount: .* supported column type|only DECIMAL"):
        spec(columns={"id": "BIGINT", "amount": type_})


def test_every_accepted_type_exists_in_duckdb_and_spellings_are_canonical():
    parsed = spec(
        columns={
            "id": "int8",
            "a": "decimal(10, 2)",
            "b": "Timestamp With Time Zone",
            "c": "text",
            "d": "float8",
        }
    )
    assert parsed.tables[0].read.columns == (
        ("id", "BIGINT"), ("a", "DECIMAL(10,2)"), ("b", "TIMESTAMPTZ"), ("c", "VARCHAR"), ("d", "DOUBLE"),
    )  # fmt: skip
    from headwater.spec import COLUMN_TYPES

    con = duckdb.connect()
    for canonical in set(COLUMN_TYPES.values()):
        type_ = "DECIMAL(18,3)" if canonical == "DECIMAL" else canonical
        con.execute(f"SELECT NULL::{type_}")  # raises if DuckDB does not know the type


def _with_patterns(path: str, patterns: object):
    return parse_spec(
        {
            "name": "p",
            "source": {"kind": "files", "url": "{home}/drop"},
            "tables": [
                {
                    "name": "t",
                    "primary_key": "id",
                    "read": {
                        "path": path,
                        "columns": {"id": "BIGINT", "ip": "VARCHAR"},
                        "patterns": patterns,
                    },
                }
            ],
        }
    )


def test_read_patterns_are_checked_when_the_spec_is_parsed():
    read = _with_patterns("logs/*.log", {"ip": r"\d+(\.\d+){3}"}).tables[0].read
    assert read is not None and read.patterns == (("ip", r"\d+(\.\d+){3}"),)
    for patterns, problem in [
        ({"host": "x"}, "'host' is not one of read.columns"),
        ({"ip": "(unclosed"}, "not a valid regular expression"),
        ({"ip": ""}, "must be a regular expression"),
        (["ip"], "must map column name"),
    ]:
        with pytest.raises(SpecError, match=problem):
            _with_patterns("logs/*.log", patterns)
    with pytest.raises(SpecError, match="not supported for CSV"):
        _with_patterns("orders/*.csv", {"ip": "x"})
