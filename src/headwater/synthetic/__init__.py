"""The synthetic source toolkit: a generator is declarations plus business rules.

- :mod:`.schema`: one DDL-like declaration of a source's tables (columns, types, keys, cursor,
  indexes), from which the DDL, the bulk inserts, the staging tables and the contract test
  against ``pipeline.yaml`` are built.
- :mod:`.generator`: :class:`SqlSourceGenerator`, the shared generate/advance choreography for
  SQL sources (SQLite, Postgres), and :mod:`.target`, the SQL sink itself;
  :mod:`.folder`: :class:`FolderSourceGenerator`, the same for a folder of generated files
  (file sources, and the JSON files an API source's fixture server serves).
- :mod:`.sqltext`: deterministic draws (``hash(key, seed, salt)`` in [0, 1)), weighted
  choices and literals for the set-based DuckDB row builders; :mod:`.arguments`: seed, scale,
  as_of and fraction checks.
- :mod:`.files`: CSV (optionally in chunks), JSON record files and web-server access logs;
  :mod:`.xlsx`: workbooks with real date and number cells; :mod:`.api_server`: the JSON files
  served over HTTP on 127.0.0.1 (pages, ``modified_since``, token, deliberate 429/5xx).
- :mod:`.messy`: values corrupted on purpose at given rates, deterministic by seed, with the
  true value kept beside the corrupted one.
"""

from headwater.synthetic.arguments import (
    as_datetime,
    check_fraction,
    check_scale,
    check_seed,
    normalise_as_of,
    stream_of,
)
from headwater.synthetic.generator import Run, SourceGenerator, SqlSourceGenerator
from headwater.synthetic.schema import Column, Schema, Table, declare
from headwater.synthetic.sqltext import case, lit, pick, sql_list, ts
from headwater.synthetic.target import Target, count

__all__ = [
    "Column",
    "Run",
    "Schema",
    "SourceGenerator",
    "SqlSourceGenerator",
    "Table",
    "Target",
    "as_datetime",
    "case",
    "check_fraction",
    "check_scale",
    "check_seed",
    "count",
    "declare",
    "lit",
    "normalise_as_of",
    "pick",
    "sql_list",
    "stream_of",
    "ts",
]
