"""What a user would use instead of Headwater: dlt and the pandas path, on the same source table.

Every case runs as a child process of the *alternatives* virtual environment
(``.venv-bench``, from ``benchmarks/requirements-alternatives.lock``), never in Headwater's
own environment: dlt and its pins must not enter ``requirements.lock``. This file is both

* the parent side (``CASES``, ``run_family``, ``evaluate``, ``compare``), imported by
  ``benchmarks/run.py`` in Headwater's venv, and
* the child side (``python benchmarks/alternatives.py --case NAME ...``), run by the
  alternatives venv's Python. The child side imports only the standard library and the
  alternatives themselves (no ``headwater``, no ``harness``).

Each alternative is used the way its documentation shows:

* **dlt** ``sql_database`` source limited to the one table (``table_names=[...]``), with
  ``backend="pyarrow"`` or ``backend="connectorx"``, run by ``dlt.pipeline(...).run(...)``
  into the ``filesystem`` destination with ``loader_file_format="parquet"`` (a local
  folder), or into the ``duckdb`` destination (a fresh DuckDB file). dlt's own defaults
  otherwise (chunk size 50,000 rows, its default worker counts); ``write_disposition`` is
  ``replace`` (a full load). Telemetry is off.
* **pandas**, as demo projects do: ``pandas.read_sql("SELECT * FROM table", engine)`` with a
  SQLAlchemy engine (psycopg2 driver), the whole table into one DataFrame, then
  ``DataFrame.to_parquet`` (pyarrow, snappy) or ``DataFrame.to_sql(..., if_exists="replace",
  index=False, chunksize=50_000)`` into a fresh Postgres database. With SQLAlchemy 2 and
  psycopg2 the default ``method`` batches rows into multi-row INSERTs ("insertmanyvalues");
  ``method="multi"`` measured 5x slower here, so the default is the fair choice.

Every child counts the rows it wrote at the destination (Parquet metadata, ``count(*)``) and
the parent fails the run when that number differs from the source's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_PYTHON = HERE.parent / ".venv-bench" / "bin" / "python"

# Targets (reported, never asserted): how much faster Headwater's full extract must be.
TARGET_X_DLT_PYARROW = 5.0
TARGET_X_DLT_CONNECTORX = 2.0
TARGET_X_PANDAS = 8.0
TARGET_RSS_SHARE_PANDAS = 0.5

# name -> (label, what it is compared with in Headwater's results)
CASES: dict[str, tuple[str, str]] = {
    "dlt_pyarrow_parquet": ("dlt sql_database pyarrow -> Parquet", "extract_full"),
    "dlt_connectorx_parquet": ("dlt sql_database connectorx -> Parquet", "extract_full"),
    "dlt_pyarrow_duckdb": ("dlt sql_database pyarrow -> duckdb", "el_full_duckdb"),
    "dlt_connectorx_duckdb": ("dlt sql_database connectorx -> duckdb", "el_full_duckdb"),
    "pandas_parquet": ("pandas read_sql -> to_parquet", "extract_full"),
    "pandas_to_sql_postgres": ("pandas read_sql -> to_sql (postgres)", "el_full_postgres"),
}


# ------------------------------------------------------------------------------------------
# Child side: runs in the alternatives venv
# ------------------------------------------------------------------------------------------


def _sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def _parquet_rows(folder: Path) -> tuple[int, int]:
    import pyarrow.parquet as pq

    files = [p for p in folder.rglob("*.parquet") if p.is_file()]
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    return rows, sum(p.stat().st_size for p in files)


def _dlt(p: dict[str, Any], backend: str, destination: str) -> dict[str, Any]:
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = str(Path(p["work"]) / "dlt_data")
    import dlt
    from dlt.sources.sql_database import sql_database

    work = Path(p["work"])
    name = f"bench_{backend}_{destination}"
    t0 = time.perf_counter()
    source = sql_database(
        credentials=_sqlalchemy_url(p["source_url"]),  # SQLAlchemy reflects the table
        schema=p["schema"],
        table_names=[p["table"]],
        backend=backend,
        # connectorx reads with its own driver and wants a plain postgresql:// URL
        **({"backend_kwargs": {"conn": p["source_url"]}} if backend == "connectorx" else {}),
    )
    if destination == "parquet":
        dest = dlt.destinations.filesystem(bucket_url=(work / "dlt_lake").as_uri())
        pipeline = dlt.pipeline(
            pipeline_name=name, destination=dest, dataset_name="bench", pipelines_dir=str(work / "dlt_pipes")
        )
        info = pipeline.run(source, loader_file_format="parquet", write_disposition="replace")
    else:
        dest = dlt.destinations.duckdb(str(work / f"{name}.duckdb"))
        pipeline = dlt.pipeline(
            pipeline_name=name, destination=dest, dataset_name="bench", pipelines_dir=str(work / "dlt_pipes")
        )
        info = pipeline.run(source, write_disposition="replace")
    seconds = time.perf_counter() - t0
    info.raise_on_failed_jobs()
    if destination == "parquet":
        rows, size = _parquet_rows(work / "dlt_lake" / "bench" / p["table"])
        extra = {"parquet_bytes": size}
    else:
        import duckdb

        con = duckdb.connect(str(work / f"{name}.duckdb"), read_only=True)
        rows = con.execute(f'SELECT count(*) FROM bench."{p["table"]}"').fetchone()[0]  # type: ignore[index]
        con.close()
        extra = {"duckdb_bytes": (work / f"{name}.duckdb").stat().st_size}
    return {"seconds": seconds, "rows": int(rows), "dlt": dlt.__version__, **extra}


def _pandas(p: dict[str, Any], to: str) -> dict[str, Any]:
    import pandas as pd
    import sqlalchemy as sa

    work = Path(p["work"])
    engine = sa.create_engine(_sqlalchemy_url(p["source_url"]))
    query = f'SELECT * FROM {p["schema"]}."{p["table"]}"'
    t0 = time.perf_counter()
    df = pd.read_sql(query, engine)
    if to == "parquet":
        out = work / "pandas" / f"{p['table']}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(out, index=False)
        seconds = time.perf_counter() - t0
        rows, size = _parquet_rows(out.parent)
        extra: dict[str, Any] = {"parquet_bytes": size}
    else:
        target = sa.create_engine(_sqlalchemy_url(p["warehouse_url"]))
        df.to_sql(p["table"], target, if_exists="replace", index=False, chunksize=50_000)
        seconds = time.perf_counter() - t0
        with target.connect() as conn:
            rows = conn.execute(sa.text(f'SELECT count(*) FROM "{p["table"]}"')).scalar_one()
        target.dispose()
        extra = {}
    engine.dispose()
    return {"seconds": seconds, "rows": int(rows), "pandas": pd.__version__, **extra}


def run_case(case: str, p: dict[str, Any]) -> dict[str, Any]:
    if case.startswith("dlt_"):
        _, backend, destination = case.split("_")
        return _dlt(p, backend, destination)
    if case == "pandas_parquet":
        return _pandas(p, "parquet")
    if case == "pandas_to_sql_postgres":
        return _pandas(p, "postgres")
    raise SystemExit(f"unknown case {case}")


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for pkg in ("dlt", "connectorx", "pandas", "SQLAlchemy", "psycopg2-binary", "pyarrow", "duckdb"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - report what is there
            out[pkg] = "?"
    return out


def child_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True)
    ap.add_argument("--params", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    result = versions() if a.case == "versions" else run_case(a.case, json.loads(a.params))
    Path(a.out).write_text(json.dumps(result, default=str))
    return 0


# ------------------------------------------------------------------------------------------
# Parent side: runs in Headwater's venv, started by run.py
# ------------------------------------------------------------------------------------------


# The cases compared with Headwater's full extract: each is preceded by one more Headwater
# extract, so that the speed-up targets compare runs seconds apart, under the same load.
REFERENCED = ("dlt_pyarrow_parquet", "dlt_connectorx_parquet", "pandas_parquet")
REF_KEY = "extract_full_ref"


def run_family(opts: argparse.Namespace, results: Any, info: dict[str, Any], work: Path, bench: Any) -> None:
    """Run every case once (``opts.alt_repeat`` times), each in a fresh child process.

    ``bench`` (an ``el.Bench``) runs the interleaved Headwater reference extracts.
    """
    import shutil

    from el import PIPELINE, drop_database, recreate_database, to_url
    from harness import log, run_child

    python = str(opts.alt_python)
    if not Path(python).exists():
        raise RuntimeError(
            f"the alternatives' venv is missing ({python}); create it with `make bench-venv` "
            "or skip this family with --skip alternatives"
        )
    out = run_child(
        [python, __file__, "--case", "versions", "--params", "{}", "--out", str(work / "alt_versions.json")],
        work / "alt_versions.json",
        what="alternatives versions",
    )
    info["alternatives_versions"] = out.result
    src = info["source"]
    per_row = src.get("copy_binary_bytes", 0) / src["rows"] if src["rows"] else 0
    wh_db = "hw_bench_alt"
    checks = info.setdefault("row_checks", [])
    refs = []
    for case in [c for c in CASES if c in opts.alt_cases]:
        label, _ = CASES[case]
        log(f"alternatives: {label}")
        runs = []
        for rep in range(opts.alt_repeat):
            ref = None
            if case in REFERENCED:
                ref = bench.child("extract", run_id="bench_alt_ref")
                refs.append(ref)
                shutil.rmtree(bench.lake / PIPELINE / opts.table / "batch=bench_alt_ref", ignore_errors=True)
            case_work = work / "alternatives" / f"{case}_{rep}"
            shutil.rmtree(case_work, ignore_errors=True)
            case_work.mkdir(parents=True)
            params = {
                "work": str(case_work),
                "source_url": opts.source_url,
                "schema": "hw_bench",
                "table": opts.table,
            }
            if case == "pandas_to_sql_postgres":
                recreate_database(opts.source_url, wh_db)
                params["warehouse_url"] = to_url(opts.source_url, wh_db)
            env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DO_NOT_TRACK": "1"}
            res_file = case_work / "result.json"
            runs.append(
                run_child(
                    [
                        python,
                        __file__,
                        "--case",
                        case,
                        "--params",
                        json.dumps(params),
                        "--out",
                        str(res_file),
                    ],
                    res_file,
                    env=env,
                    what=f"alternative {case}",
                )
            )
            if ref is not None:  # the pair that the targets compare
                runs[-1].result.update(hw_ref_seconds=ref.seconds, hw_ref_rss_mb=ref.peak_rss_mb)
            got = runs[-1].result["rows"]
            if got != src["rows"]:
                raise RuntimeError(
                    f"alternative {case} wrote {got:,} rows, the source has {src['rows']:,}: "
                    "this measurement moved the wrong data"
                )
            if not opts.keep:
                shutil.rmtree(case_work, ignore_errors=True)
        checks.append(f"{case} {src['rows']:,} ok")

        def note(r: dict[str, Any]) -> str:
            size = r.get("parquet_bytes") or r.get("duckdb_bytes")
            out = (
                f"{'Parquet' if r.get('parquet_bytes') else 'DuckDB file'} {size / 1e6:.0f} MB"
                if size
                else ""
            )
            if r.get("hw_ref_seconds"):
                out += f"; Headwater extract just before: {r['hw_ref_seconds']:.2f} s"
            return out

        results.add(
            case,
            label,
            runs,
            lambda r: r["rows"],
            lambda r: r["rows"] * per_row or None,
            note,
            family="alternatives",
        )
    drop_database(opts.source_url, wh_db)
    if refs:
        results.add(
            REF_KEY,
            "Headwater full extract -> Parquet, run just before each of the alternatives above",
            refs,
            lambda r: r["rows"],
            lambda r: r["rows"] * per_row or None,
            lambda r: f"Parquet {r['parquet_bytes'] / 1e6:.0f} MB",
            family="alternatives",
        )


def paired(m: Any) -> tuple[float, float] | None:
    """(seconds, peak RSS MB) of the Headwater extract that ran just before this alternative."""
    best = m.extra.get("best", {})
    if best.get("hw_ref_seconds"):
        return float(best["hw_ref_seconds"]), float(best["hw_ref_rss_mb"])
    return None


def compare(results: Any) -> list[str]:
    """One line per alternative: how many times the time and RSS of the Headwater line it replaces."""
    lines = []
    for case, (label, hw_key) in CASES.items():
        alt, hw = results.get(case), results.get(hw_key)
        if not alt:
            continue
        pair = paired(alt)
        if pair:
            hw_label, hw_s, hw_rss = "the Headwater full extract run just before it", pair[0], pair[1]
        elif hw:
            hw_label, hw_s, hw_rss = hw.label, hw.seconds, hw.peak_rss_mb
        else:
            continue
        lines.append(
            f"{label}: {alt.seconds / hw_s:.2f}x the time of {hw_label} "
            f"({alt.seconds:.2f} s / {hw_s:.2f} s), {alt.peak_rss_mb / hw_rss:.2f}x its peak RSS"
        )
    return lines


def evaluate(results: Any) -> list[dict[str, Any] | None]:
    """Speed-ups of Headwater's full extract over each alternative to Parquet, each against
    the Headwater extract that ran just before it (same machine load), and the RSS share."""
    from harness import target

    out: list[dict[str, Any] | None] = []
    for case, goal in (
        ("dlt_pyarrow_parquet", TARGET_X_DLT_PYARROW),
        ("dlt_connectorx_parquet", TARGET_X_DLT_CONNECTORX),
        ("pandas_parquet", TARGET_X_PANDAS),
    ):
        alt = results.get(case)
        pair = paired(alt) if alt else None
        if alt and pair:
            out.append(
                target(
                    f"full extract speed-up over {CASES[case][0]}",
                    alt.seconds / pair[0],
                    goal,
                    "min_x",
                    f"{alt.seconds:.2f} s / {pair[0]:.2f} s",
                )
            )
    pandas = results.get("pandas_parquet")
    pair = paired(pandas) if pandas else None
    if pandas and pair:
        out.append(
            target(
                "full extract peak RSS vs the pandas path's",
                pair[1] / pandas.peak_rss_mb,
                TARGET_RSS_SHARE_PANDAS,
                "max_x",
                f"{pair[1]:.0f} MB / {pandas.peak_rss_mb:.0f} MB",
            )
        )
    return out


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
