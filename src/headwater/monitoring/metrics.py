"""Prometheus metrics: ``headwater metrics`` serves them on 127.0.0.1 (port 9464 by default).

Every scrape reads the current state afresh (a custom collector, no counters kept in this
process): the run ledger and load ledger of every pipeline from the warehouse's metadata
schema (read-only, short sessions, so a DuckDB writer is never blocked for long), and
Airflow's health from its metadata database. Counters are sums over the ledger, so they only
grow as runs are recorded. A source that cannot be read sets ``headwater_warehouse_up`` or
``headwater_airflow_up`` to 0 instead of failing the scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from headwater.monitoring.airflow_health import read_health
from headwater.notify import redact

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464
PT = ("pipeline", "table")

# name -> (kind, help, labels); the single list the endpoint exports (the dashboards and alert
# rules are tested against it).
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "headwater_warehouse_up": ("gauge", "1 when the warehouse metadata could be read on this scrape", ()),
    "headwater_rows_extracted": ("counter", "Rows extracted from the source into the lake", PT),
    "headwater_rows_loaded": ("counter", "Rows inserted or changed in the warehouse", PT),
    "headwater_rows_quarantined": ("counter", "Rows set aside in headwater.quarantine", PT),
    "headwater_rows_skipped": ("counter", "Rows extracted that changed nothing (unchanged or duplicate)", PT),
    "headwater_bytes_loaded": ("counter", "Compressed Parquet bytes of the loaded batches", PT),
    "headwater_load_seconds": ("counter", "Time spent in load transactions", PT),
    "headwater_batches_loaded": ("counter", "Lake batches loaded", PT),
    "headwater_runs": ("counter", "DAG runs recorded in the run ledger, by outcome", ("pipeline", "outcome")),
    "headwater_last_run_success": (
        "gauge",
        "1 when the pipeline's latest run succeeded, else 0",
        ("pipeline",),
    ),
    "headwater_last_run_duration_seconds": ("gauge", "Wall time of the latest run", ("pipeline",)),
    "headwater_last_run_timestamp_seconds": ("gauge", "When the latest run ended (Unix time)", ("pipeline",)),
    "headwater_last_success_timestamp_seconds": (
        "gauge",
        "When the latest successful run ended",
        ("pipeline",),
    ),
    "headwater_last_run_rows_extracted": ("gauge", "Rows extracted by the latest run", ("pipeline",)),
    "headwater_last_run_rows_loaded": ("gauge", "Rows loaded by the latest run", ("pipeline",)),
    "headwater_last_run_rows_quarantined": ("gauge", "Rows quarantined by the latest run", ("pipeline",)),
    "headwater_watermark_lag_seconds": (
        "gauge",
        "Now minus the table's watermark (newest cursor loaded)",
        PT,
    ),
    "headwater_source_freshness_seconds": (
        "gauge",
        "Now minus the newest source row (dbt source freshness)",
        PT,
    ),
    "headwater_source_freshness_sla_seconds": ("gauge", "The table's freshness error_after, in seconds", PT),
    "headwater_dbt_model_duration_seconds": (
        "gauge",
        "dbt model build time in the latest run",
        ("pipeline", "model"),
    ),
    "headwater_dbt_tests": ("gauge", "dbt tests of the latest run, by status", ("pipeline", "status")),
    "headwater_dbt_test_failures": (
        "gauge",
        "Failing rows of each failed dbt test, latest run",
        ("pipeline", "test"),
    ),
    "headwater_reconcile_rows": (
        "gauge",
        "Rows the latest headwater reconcile found differing, by difference (missing, extra, different)",
        ("pipeline", "table", "difference"),
    ),
    "headwater_reconcile_timestamp_seconds": ("gauge", "When the table was last reconciled", PT),
    "headwater_rows_marked_deleted": ("counter", "Raw rows marked deleted by the delete check", PT),
    "headwater_airflow_up": ("gauge", "1 when Airflow's metadata database could be read on this scrape", ()),
    "headwater_airflow_scheduler_heartbeat_age_seconds": (
        "gauge",
        "Seconds since a running scheduler's heartbeat",
        (),
    ),
    "headwater_airflow_import_errors": ("gauge", "DAG files that fail to import", ()),
    "headwater_airflow_task_instances": ("gauge", "Task instances by (active) state", ("state",)),
    "headwater_airflow_pool_slots": ("gauge", "Pool slots: total, running, queued, open", ("pool", "state")),
    "headwater_airflow_dag_runs": ("gauge", "DAG runs queued or running", ("state",)),
}


def exported_names() -> set[str]:
    """Every sample name the endpoint can export (counters get ``_total``)."""
    return {name + ("_total" if kind == "counter" else "") for name, (kind, _, _) in METRICS.items()}


class _Families:
    def __init__(self) -> None:
        self.families: dict[str, Any] = {}

    def add(self, name: str, labels: tuple[str, ...] | list[str], value: float | None) -> None:
        if value is None:
            return
        kind, help_, label_names = METRICS[name]
        family = self.families.get(name)
        if family is None:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = cls(name, help_, labels=list(label_names))
            self.families[name] = family
        family.add_metric([str(v) for v in labels], float(value))


def _tables(con) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'wh' AND schema_name = 'headwater'"
        ).fetchall()
    }


def _epoch(value: Any) -> float | None:
    if not isinstance(value, datetime):
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()


def _timestamp_age(now: float, value: Any) -> float | None:
    """Seconds from a cursor value (timestamp text or value) to now; None when it is no time."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return now - (_epoch(value) or now)


def warehouse_metrics(con, out: _Families, now: float) -> None:
    """Everything read from the warehouse's metadata schema (``wh.headwater.*``), all pipelines."""
    tables = _tables(con)
    if "load_ledger" in tables:
        columns = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'wh' "
                "AND schema_name = 'headwater' AND table_name = 'load_ledger'"
            ).fetchall()
        }
        skipped = (
            "coalesce(rows_skipped, greatest(rows_in_batch - rows_changed - rows_quarantined, 0))"
            if "rows_skipped" in columns
            else "greatest(rows_in_batch - rows_changed - rows_quarantined, 0)"
        )
        bytes_ = "coalesce(bytes, 0)" if "bytes" in columns else "0"
        for row in con.execute(
            f"SELECT pipeline, table_name, sum(rows_in_batch), sum(rows_changed), sum(rows_quarantined), "
            f"sum({skipped}), sum({bytes_}), sum(duration_seconds), count(*) "
            "FROM wh.headwater.load_ledger GROUP BY pipeline, table_name ORDER BY 1, 2"
        ).fetchall():
            key = row[:2]
            for name, value in zip(
                ("rows_extracted", "rows_loaded", "rows_quarantined", "rows_skipped", "bytes_loaded",
                 "load_seconds", "batches_loaded"),
                row[2:],
                strict=True,
            ):  # fmt: skip
                out.add(f"headwater_{name}", key, value or 0)
    if "watermarks" in tables:
        for pipeline, table, watermark in con.execute(
            "SELECT pipeline, table_name, watermark FROM wh.headwater.watermarks ORDER BY 1, 2"
        ).fetchall():
            out.add("headwater_watermark_lag_seconds", (pipeline, table), _timestamp_age(now, watermark))
    if "runs" in tables:
        for pipeline, outcome, n in con.execute(
            "SELECT pipeline, outcome, count(*) FROM wh.headwater.runs GROUP BY ALL ORDER BY 1, 2"
        ).fetchall():
            out.add("headwater_runs", (pipeline, outcome), n)
        for pipeline, outcome, duration, ended, extracted, loaded, quarantined in con.execute(
            "SELECT pipeline, outcome, duration_seconds, ended_at, rows_extracted, rows_loaded, "
            "rows_quarantined FROM wh.headwater.runs "
            "QUALIFY row_number() OVER (PARTITION BY pipeline ORDER BY ended_at DESC) = 1"
        ).fetchall():
            out.add("headwater_last_run_success", (pipeline,), 1 if outcome == "success" else 0)
            out.add("headwater_last_run_duration_seconds", (pipeline,), duration)
            out.add("headwater_last_run_timestamp_seconds", (pipeline,), _epoch(ended))
            out.add("headwater_last_run_rows_extracted", (pipeline,), extracted)
            out.add("headwater_last_run_rows_loaded", (pipeline,), loaded)
            out.add("headwater_last_run_rows_quarantined", (pipeline,), quarantined)
        for pipeline, ended in con.execute(
            "SELECT pipeline, max(ended_at) FROM wh.headwater.runs WHERE outcome = 'success' GROUP BY 1"
        ).fetchall():
            out.add("headwater_last_success_timestamp_seconds", (pipeline,), _epoch(ended))
    if "source_freshness" in tables:
        for pipeline, table, max_loaded_at, error_after in con.execute(
            "SELECT pipeline, table_name, max_loaded_at, error_after_seconds "
            "FROM wh.headwater.source_freshness "
            "QUALIFY row_number() OVER (PARTITION BY pipeline, table_name ORDER BY checked_at DESC) = 1"
        ).fetchall():
            out.add(
                "headwater_source_freshness_seconds", (pipeline, table), _timestamp_age(now, max_loaded_at)
            )
            out.add("headwater_source_freshness_sla_seconds", (pipeline, table), error_after)
    if "reconciliations" in tables:
        _reconcile_metrics(con, out)
    if "dbt_results" in tables:
        latest = (
            "WITH latest AS (SELECT pipeline, arg_max(run_id, recorded_at) AS run_id "
            "FROM wh.headwater.dbt_results GROUP BY pipeline) "
        )
        for pipeline, node, seconds in con.execute(
            latest + "SELECT r.pipeline, r.unique_id, r.execution_time FROM wh.headwater.dbt_results r "
            "JOIN latest USING (pipeline, run_id) WHERE r.resource_type = 'model' ORDER BY 1, 2"
        ).fetchall():
            out.add("headwater_dbt_model_duration_seconds", (pipeline, node), seconds)
        for pipeline, status, n in con.execute(
            latest + "SELECT r.pipeline, r.status, count(*) FROM wh.headwater.dbt_results r "
            "JOIN latest USING (pipeline, run_id) WHERE r.resource_type = 'test' GROUP BY ALL ORDER BY 1, 2"
        ).fetchall():
            out.add("headwater_dbt_tests", (pipeline, status), n)
        for pipeline, node, failures in con.execute(
            latest
            + "SELECT r.pipeline, r.unique_id, coalesce(r.failures, 0) FROM wh.headwater.dbt_results r "
            "JOIN latest USING (pipeline, run_id) WHERE r.resource_type = 'test' "
            "AND r.status IN ('fail', 'error') ORDER BY 1, 2"
        ).fetchall():
            out.add("headwater_dbt_test_failures", (pipeline, node), failures)


def _reconcile_metrics(con, out: _Families) -> None:
    """The latest ``headwater reconcile`` per table, and the delete check's marks so far."""
    for pipeline, table, missing, extra, different, checked in con.execute(
        "SELECT pipeline, table_name, rows_missing, rows_extra, rows_different, checked_at "
        "FROM wh.headwater.reconciliations WHERE kind = 'reconcile' AND status <> 'error' "
        "QUALIFY row_number() OVER (PARTITION BY pipeline, table_name ORDER BY checked_at DESC) = 1 "
        "ORDER BY 1, 2"
    ).fetchall():
        for difference, n in (("missing", missing), ("extra", extra), ("different", different)):
            out.add("headwater_reconcile_rows", (pipeline, table, difference), n or 0)
        out.add("headwater_reconcile_timestamp_seconds", (pipeline, table), _epoch(checked))
    for pipeline, table, marked in con.execute(
        "SELECT pipeline, table_name, sum(coalesce(rows_marked_deleted, 0)) "
        "FROM wh.headwater.reconciliations WHERE kind = 'deletes' GROUP BY ALL ORDER BY 1, 2"
    ).fetchall():
        out.add("headwater_rows_marked_deleted", (pipeline, table), marked)


def airflow_metrics(url: str, out: _Families, now: float) -> None:
    health = read_health(url, datetime.fromtimestamp(now, UTC).replace(tzinfo=None))
    out.add("headwater_airflow_scheduler_heartbeat_age_seconds", (), health.scheduler_heartbeat_age)
    out.add("headwater_airflow_import_errors", (), health.import_errors)
    for state, n in health.task_instances.items():
        out.add("headwater_airflow_task_instances", (state,), n)
    for pool, slots in sorted(health.pools.items()):
        for state, n in slots.items():
            out.add("headwater_airflow_pool_slots", (pool, state), n)
    for state, n in health.dag_runs.items():
        out.add("headwater_airflow_dag_runs", (state,), n)


class HeadwaterCollector(Collector):
    """Reads the warehouse and Airflow on every ``collect()``; keeps no state between scrapes."""

    def __init__(
        self, warehouse_url: str, airflow_db_url: str | None, clock: Callable[[], float] = time.time
    ):
        self.warehouse_url = warehouse_url
        self.airflow_db_url = airflow_db_url
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        from headwater.dashboard.db import Reader

        out = _Families()
        now = self.clock()
        try:
            Reader(self.warehouse_url, attempts=3).run(lambda con: warehouse_metrics(con, out, now))
            out.add("headwater_warehouse_up", (), 1)
        except Exception as e:  # a scrape must say "down", not fail
            log.warning(
                "metrics: warehouse not readable: %s", redact(str(e).splitlines()[0] if str(e) else "")
            )
            out.families = {}
            out.add("headwater_warehouse_up", (), 0)
        if self.airflow_db_url:
            try:
                airflow_metrics(self.airflow_db_url, out, now)
                out.add("headwater_airflow_up", (), 1)
            except Exception as e:
                log.warning("metrics: %s", redact(str(e)))
                out.add("headwater_airflow_up", (), 0)
        yield from out.families.values()


def serve(collector: Collector, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
    """Serve ``/metrics`` for this collector only (no process or platform metrics mixed in)."""
    from prometheus_client import CollectorRegistry, start_wsgi_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return start_wsgi_server(port, addr=host, registry=registry)
