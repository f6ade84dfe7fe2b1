"""Airflow's health, read from its metadata database (the same one the scheduler writes).

What an operator needs to see that Airflow itself is fine: the scheduler's last heartbeat,
DAG files that fail to import, task instances queued and running, pool slots in use, DAG runs
in flight. Read-only queries, a short connection per scrape; the URL (which may hold a
password) is never printed unmasked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from headwater.urls import mask_url

ACTIVE_TI_STATES = ("queued", "running", "scheduled", "deferred", "up_for_retry")


@dataclass
class AirflowHealth:
    scheduler_heartbeat_age: float | None = None
    """Seconds since the newest heartbeat of a running scheduler; None: no scheduler ever ran."""
    import_errors: int = 0
    task_instances: dict[str, int] = field(default_factory=dict)
    pools: dict[str, dict[str, int]] = field(default_factory=dict)
    """pool -> total / running / queued / open slots (open is absent for unlimited pools)"""
    dag_runs: dict[str, int] = field(default_factory=dict)


def sqlalchemy_url(url: str) -> str:
    """Airflow's metadata URL, opened read-only where the driver allows it."""
    if url.startswith("sqlite:///") and "?" not in url:
        return f"sqlite:///file:{url[len('sqlite:///') :]}?mode=ro&uri=true"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg2://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _age(now: datetime, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return max((now - value).total_seconds(), 0.0)


def _rows(con: Any, sql: str) -> list[Any]:
    import sqlalchemy as sa

    return list(con.execute(sa.text(sql)).fetchall())


def read_health(url: str, now: datetime | None = None) -> AirflowHealth:
    """One consistent read of Airflow's metadata; raises when the database cannot be read."""
    import sqlalchemy as sa

    now = now or datetime.now(UTC).replace(tzinfo=None)
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            health = AirflowHealth()
            beat = con.execute(
                sa.text(
                    "SELECT max(latest_heartbeat) FROM job "
                    "WHERE job_type = 'SchedulerJob' AND state = 'running'"
                )
            ).scalar()
            health.scheduler_heartbeat_age = _age(now, beat)
            health.import_errors = int(
                con.execute(sa.text("SELECT count(*) FROM import_error")).scalar() or 0
            )
            health.task_instances = {s: 0 for s in ACTIVE_TI_STATES}
            for state, n in _rows(
                con, "SELECT state, count(*) FROM task_instance WHERE state IS NOT NULL GROUP BY state"
            ):
                if state in health.task_instances:
                    health.task_instances[state] = int(n)
            used: dict[tuple[str, str], int] = {}
            for pool, state, n in _rows(
                con,
                "SELECT pool, state, sum(pool_slots) FROM task_instance "
                "WHERE state IN ('running', 'queued') GROUP BY pool, state",
            ):
                used[(pool, state)] = int(n or 0)
            for pool, slots in _rows(con, "SELECT pool, slots FROM slot_pool"):
                running, queued = used.get((pool, "running"), 0), used.get((pool, "queued"), 0)
                entry = {"total": int(slots), "running": running, "queued": queued}
                if slots >= 0:
                    entry["open"] = max(int(slots) - running - queued, 0)
                health.pools[pool] = entry
            health.dag_runs = {"queued": 0, "running": 0}
            for state, n in _rows(
                con, "SELECT state, count(*) FROM dag_run WHERE state IN ('queued', 'running') GROUP BY state"
            ):
                health.dag_runs[state] = int(n)
            return health
    except Exception as e:
        from headwater.notify import redact

        detail = redact(str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise RuntimeError(f"cannot read Airflow's metadata at {mask_url(url)}: {detail}") from None
    finally:
        engine.dispose()
