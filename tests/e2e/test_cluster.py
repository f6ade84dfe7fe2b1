"""The production profile for real: ``headwater cluster`` (Airflow on CeleryExecutor with two
Celery workers, Redis as broker, Postgres for metadata, Celery results, warehouse and sources,
a moto S3 server as the lake) runs every bundled pipeline through its scheduler, while the
test is hostile to it.

One cluster and one story, shared by the tests below (each checks one part of it):

1. ``cluster up`` from a clean state; every pipeline's sources generated on Postgres (files and
   the pacbikes API as their pipelines receive them).
2. Every pipeline is started at once through the scheduler (its DAGs unpaused: scheduled
   runs, and Asset-triggered ones for the two-DAG pipelines; never ``dags test``).
3. While the test holds the load ledger locked, the loads block mid-transaction; the worker
   running one of them is SIGKILLed with its children. Its tasks must be retried on
   the other worker within two minutes, and the warehouse must end exact.
4. The scheduler is SIGKILLed and restarted while the runs go on: they complete.
5. The cluster's road to Redis (a forwarder the test owns; the machine's Redis is never
   touched) is cut while a second travel_bookings run starts: its tasks wait or fail with a
   clear error, and the next run recovers with nothing lost.
6. ``cluster down`` leaves no process and no listener.

What lands is compared with the sources: reconcile (counts and hashes computed in each
database) reports every SQL table equal, and each pipeline's marts equal the figures its
``expectations.py`` computes from the source with its own driver.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from headwater import discovery
from headwater.dashboard import marts
from headwater.dashboard.db import Reader
from headwater.orchestration import cluster
from headwater.reconcile import reconcile_pipeline
from headwater.settings import Settings, source_token_variable, source_url_variable
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.e2e.support import SourceReader, create_database, drop_database
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

PIPELINES = [n for n in discovery.available_pipelines() if discovery.is_bundled(load_spec(n))]
OUTAGE_PIPELINE = "travel_bookings"
RETRY_WITHIN = 120  # seconds from the kill to the retry's start (the bound)
REDIS = ("127.0.0.1", 6379)


@dataclass
class Story:
    settings: Settings
    env: dict[str, str]
    sources: dict[str, str]
    folders: dict[str, dict[str, str]]
    runs: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    tis: list[dict[str, Any]] = field(default_factory=list)
    killed: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    outage: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    actual: dict[str, Any] = field(default_factory=dict)
    reconciled: dict[str, list] = field(default_factory=dict)
    up_state: dict[str, Any] = field(default_factory=dict)
    status_up: dict[str, Any] = field(default_factory=dict)
    down: dict[str, Any] = field(default_factory=dict)
    left_after_down: list[int] = field(default_factory=list)
    listeners_after_down: list[tuple] = field(default_factory=list)


def _meta(env: dict[str, str], sql: str, **params: Any) -> list[tuple]:
    return cluster.metadata_rows(env, sql, **params)


def _task_rows(env: dict[str, str]) -> list[dict[str, Any]]:
    cols = "dag_id, run_id, task_id, map_index, state, hostname, queue, try_number, start_date, end_date"
    rows = _meta(env, f"SELECT {cols} FROM task_instance")
    history = _meta(env, f"SELECT {cols} FROM task_instance_history")
    names = [c.strip() for c in cols.split(",")]
    return [dict(zip(names, r, strict=True)) | {"final": True} for r in rows] + [
        dict(zip(names, r, strict=True)) | {"final": False} for r in history
    ]


def _wait(check, seconds: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def _generate(spec, settings: Settings, seed: int) -> None:
    generator = discovery.pipeline_module(spec, "generator")
    expectations = discovery.pipeline_module(spec, "expectations")
    kwargs: dict[str, Any] = {"seed": seed, **expectations.GENERATE}
    if spec.source.schema:
        kwargs["schema"] = spec.source.schema
    others = {
        s.name: settings.source_url_for(spec, s.name) for s in spec.sources if s.name != spec.source.name
    }
    if others:
        kwargs["other_sources"] = others
    generator.generate(settings.source_url_for(spec), **kwargs)


def _figures(story: Story, name: str) -> tuple[Any, Any]:
    """(from the source, from the marts) for one pipeline, as its own e2e test computes them."""
    settings = story.settings
    spec = load_spec(name)
    expectations = discovery.pipeline_module(spec, "expectations")
    mart = lambda m: marts.relation(name, m, settings.home)  # noqa: E731
    wh = open_warehouse(settings.warehouse_url)
    url = settings.source_url_for(spec)
    if name == "forex":
        return expectations.from_truth(expectations.Truth(url)), expectations.from_marts(wh, mart)
    src = SourceReader(url, spec.source.schema)
    if name == "b2b_commerce":
        folders = story.folders[name]
        actual = Reader(settings.warehouse_url).run(lambda con: expectations.from_marts(con, mart))
        return expectations.from_source(src, Path(folders["leads"]), Path(folders["weblogs"])), actual
    return expectations.from_source(src), expectations.from_marts(wh, mart)


def _waiting_on_ledger(warehouse_url: str) -> int:
    with psycopg.connect(warehouse_url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'load_ledger' AND NOT l.granted"
        ).fetchone()
    return int(row[0]) if row else 0


def _kill_component(state: dict, name: str) -> list[int]:
    procs = cluster._component_processes(state, name)
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    return [p.pid for p in procs]


@pytest.fixture(scope="module")
def story(request, tmp_path_factory) -> Iterator[Story]:
    admin = request.getfixturevalue("pg_server")
    base = admin.rsplit("/", 1)[0]
    home = tmp_path_factory.mktemp("cluster") / "hw"
    home.mkdir()
    databases = [create_database(admin) for _ in range(2 + len(PIPELINES))]
    metadata_db, warehouse_db, *source_dbs = databases
    proxy = TcpProxy(REDIS)
    redis_db = 8 + os.getpid() % 8  # the machine's Redis is shared: a database of our own
    try:
        with pytest.MonkeyPatch.context() as mp:
            for var in [v for v in os.environ if v.startswith(("HEADWATER_", "AIRFLOW"))]:
                mp.delenv(var)
            mp.setenv("HEADWATER_HOME", str(home))
            mp.setenv("HEADWATER_CLUSTER_METADATA_URL", f"{base}/{metadata_db}")
            mp.setenv("HEADWATER_WAREHOUSE_URL", f"{base}/{warehouse_db}")
            mp.setenv("HEADWATER_CLUSTER_BROKER_URL", f"redis://{proxy.url_host}/{redis_db}")
            mp.setenv("HEADWATER_CLUSTER_PORT", str(cluster.free_port()))
            sources, folders = {}, {}
            for name, db in zip(PIPELINES, source_dbs, strict=True):
                spec = load_spec(name)
                if spec.source.kind == "sql":
                    mp.setenv(source_url_variable(name, spec.source.name), f"{base}/{db}")
            settings = Settings.from_env()
            for i, name in enumerate(PIPELINES):
                spec = load_spec(name)
                _generate(spec, settings, seed=70 + i)
                sources[name] = settings.source_url_for(spec)
                folders[name] = {s.name: settings.source_url_for(spec, s.name) for s in spec.sources}
            served = _serve_apis(mp, settings)
            settings = Settings.from_env()
            wh = open_warehouse(settings.warehouse_url)
            with wh.session() as con:
                wh.ensure_metadata(con)  # so the test can lock the ledger before any load
            story = Story(settings, {}, sources, folders)
            story.up_state = cluster.up(settings, cluster.ClusterConfig.from_env(), say=lambda _m: None)
            try:
                story.env = cluster.cluster_env(settings)
                story.status_up = cluster.status(settings)
                _play(story, proxy)
            finally:
                story.tis = _task_rows(story.env) if story.env else []
                pids = {p.pid for p in cluster.cluster_processes(story.up_state)}
                story.down = cluster.down(settings, say=lambda _m: None)
                story.left_after_down = [p.pid for p in cluster.cluster_processes(story.up_state)]
                story.listeners_after_down = cluster.listening_sockets(pids)
                for api in served:
                    api.__exit__(None, None, None)
            for name in PIPELINES:  # failures are the checks' to report, one pipeline at a time
                try:
                    story.expected[name], story.actual[name] = _figures(story, name)
                except Exception as e:
                    story.expected[name] = story.actual[name] = e
                try:
                    story.reconciled[name] = reconcile_pipeline(load_spec(name), settings)
                except Exception as e:
                    story.reconciled[name] = e  # type: ignore[assignment]
            yield story
    finally:
        proxy.close()
        for db in databases:
            drop_database(admin, db)


def _serve_apis(mp: pytest.MonkeyPatch, settings: Settings) -> list[Any]:
    """Each pipeline's stand-in API (pacbikes' currency API), pointed at by the environment
    the cluster's workers inherit, as a deployment points them at the real service."""
    served = []
    for name in PIPELINES:
        spec = load_spec(name)
        serve = getattr(discovery.pipeline_module(spec, "generator"), "serve", None)
        if serve is None:
            continue
        kwargs = {"schema": spec.source.schema} if spec.source.schema else {}
        context = serve(settings.source_url_for(spec), **kwargs)
        services = context.__enter__()
        served.append(context)
        for source, service in services.items():
            mp.setenv(source_url_variable(name, source), service.url)
            mp.setenv(source_token_variable(source), service.token or "")
    return served


def _play(story: Story, proxy: TcpProxy) -> None:
    settings, env = story.settings, story.env
    state = cluster.read_state(settings)
    assert state is not None
    ledger = psycopg.connect(settings.warehouse_url)
    ledger.execute("LOCK TABLE headwater.load_ledger IN EXCLUSIVE MODE")  # loads block at their insert
    try:
        before = {name: cluster.start_pipeline(settings, name) for name in PIPELINES}

        def killed_load() -> dict[str, Any] | None:
            """A load task running (any pipeline's) while loads wait on the ledger's lock."""
            if _waiting_on_ledger(settings.warehouse_url) == 0:
                return None
            rows = _meta(
                env,
                "SELECT dag_id, task_id, map_index, hostname, try_number FROM task_instance "
                "WHERE state = 'running' AND hostname IS NOT NULL",
            )
            loads = [r for r in rows if r[1].rsplit(".", 1)[-1].startswith("load")]
            return {"task": loads[0]} if loads else None

        target = _wait(killed_load, 600, "a running load blocked in its transaction")
        worker = target["task"][3].split("@", 1)[0]
        running = _meta(env, "SELECT dag_id, task_id, map_index, try_number FROM task_instance "
                             "WHERE state = 'running' AND hostname LIKE :h", h=f"{worker}@%")  # fmt: skip
        story.killed = {
            "worker": worker,
            "task": target["task"],
            "running": running,
            "pids": _kill_component(state, worker),
            "at": time.time(),
        }
        story.killed["status"] = cluster.status(settings)["components"]
    finally:
        ledger.rollback()  # the lock goes: the surviving loads go on
        ledger.close()

    # The killed load is retried on the other worker (the killed one stays down meanwhile).
    dag_id, task_id, map_index, _, try_number = story.killed["task"]

    def retried() -> tuple | None:
        rows = _meta(
            env,
            "SELECT hostname, try_number, start_date, state FROM task_instance WHERE dag_id = :d "
            "AND task_id = :k AND map_index = :m AND try_number > :t AND state IN ('running', 'success')",
            d=dag_id, k=task_id, m=map_index, t=try_number,
        )  # fmt: skip
        return rows[0] if rows else None

    story.killed["retry"] = _wait(retried, 300, "the killed load's retry")
    cluster.restart(settings, worker)

    # The scheduler dies (SIGKILL) while the pipelines run, and is started again.
    story.scheduler["unfinished_runs_at_kill"] = _meta(
        env, "SELECT count(*) FROM dag_run WHERE state IN ('running', 'queued')"
    )[0][0]
    story.scheduler["pids"] = _kill_component(state, "scheduler")
    cluster.restart(settings, "scheduler")
    story.scheduler["restarted_at"] = time.time()

    for name in PIPELINES:
        story.runs[name] = cluster.wait_pipeline(settings, name, before[name], timeout=1200)

    _outage(story, proxy)


def _outage(story: Story, proxy: TcpProxy) -> None:
    """Redis unreachable for the cluster while a run starts; then the next run."""
    settings = story.settings
    spec = load_spec(OUTAGE_PIPELINE)
    generator = discovery.pipeline_module(spec, "generator")
    generator.advance(settings.source_url_for(spec), seed=99)
    proxy.cut()
    try:
        before = cluster.start_pipeline(settings, OUTAGE_PIPELINE)
        time.sleep(30)
        story.outage["during"] = _meta(
            story.env,
            "SELECT state, count(*) FROM task_instance WHERE dag_id = :d AND run_id = "
            "(SELECT run_id FROM dag_run WHERE dag_id = :d ORDER BY id DESC LIMIT 1) GROUP BY state",
            d=OUTAGE_PIPELINE,
        )
    finally:
        proxy.restore()
    first = cluster.wait_pipeline(settings, OUTAGE_PIPELINE, before, timeout=900)
    story.outage["first"] = first
    if any(state != "success" for _run, state in first.values()):
        again = cluster.start_pipeline(settings, OUTAGE_PIPELINE)
        story.outage["next"] = cluster.wait_pipeline(settings, OUTAGE_PIPELINE, again, timeout=900)
    logs = Path(cluster.read_state(settings)["home"]) / "logs"  # type: ignore[index]
    story.outage["errors"] = [
        line
        for log in logs.glob("*.log")
        for line in log.read_text(errors="replace").splitlines()
        if "redis" in line.lower() and ("error" in line.lower() or "cannot connect" in line.lower())
    ]


# -- the checks --------------------------------------------------------------------------------
def test_the_cluster_came_up_from_a_clean_state_with_every_process(story: Story):
    names = set(story.up_state["components"])
    assert {"api-server", "scheduler", "dag-processor", "triggerer", "lake"} <= names
    assert {n for n in names if n.startswith("worker-")} == {"worker-1", "worker-2"}


def test_status_names_every_process_alive_and_every_listener_is_on_loopback(story: Story):
    status = story.status_up
    assert set(status["components"].values()) == {"alive"}, status["components"]
    assert status["health"]["scheduler"]["status"] == "healthy"
    addresses = {address for address, _port in status["listeners"]}
    assert ("127.0.0.1", status["port"]) in status["listeners"]  # the api-server
    assert addresses == {"127.0.0.1"}, status["listeners"]  # no log server, nothing on 0.0.0.0
    after_kill = story.killed["status"]
    assert after_kill[story.killed["worker"]] == "dead"
    assert {n for n, s in after_kill.items() if s == "dead"} == {story.killed["worker"]}


def test_every_pipeline_ran_through_the_scheduler_on_celery_workers(story: Story):
    for name in PIPELINES:
        spec = load_spec(name)
        runs = story.runs[name]
        assert set(runs) == {s.dag_id for s in spec.dags}, name
        for dag_id, (run_id, state) in runs.items():
            assert state == "success", f"{dag_id} {run_id}: {state}"
            assert run_id.startswith(("scheduled__", "asset_triggered__")), run_id
    finals = [t for t in story.tis if t["final"] and t["state"] == "success"]
    hosts = {t["hostname"].split("@", 1)[0] for t in finals}
    assert hosts == {"worker-1", "worker-2"}, hosts


def test_loads_and_dbt_go_to_their_own_queues(story: Story):
    from headwater.orchestration.dag import is_transform_task

    ran = [t for t in story.tis if t["final"] and t["state"] == "success"]
    assert ran
    for t in ran:
        expected = cluster.TRANSFORM_QUEUE if is_transform_task(t["task_id"]) else cluster.LOAD_QUEUE
        assert t["queue"] == expected, t
    assert any(t["queue"] == cluster.TRANSFORM_QUEUE for t in ran)


def test_the_warehouse_equals_every_sql_source(story: Story):
    for name in PIPELINES:
        reports = story.reconciled[name]
        assert not isinstance(reports, Exception), (name, reports)
        compared = [r for r in reports if r.status != "skipped"]
        assert compared or load_spec(name).source.kind != "sql", name
        for r in compared:
            assert r.status == "equal", (name, r.as_dict())


def test_every_pipelines_marts_equal_the_figures_from_its_source(story: Story):
    for name in PIPELINES:
        expected, actual = story.expected[name], story.actual[name]
        assert not isinstance(expected, Exception), (name, expected)
        assert expected, name
        for figure, value in expected.items():
            assert actual[figure] == value, (name, figure)


def test_a_killed_workers_load_is_retried_on_the_other_worker_within_two_minutes(story: Story):
    killed = story.killed
    assert killed["pids"], "the worker had processes to kill"
    hostname, try_number, start_date, _state = killed["retry"]
    assert hostname.split("@", 1)[0] not in (killed["worker"], ""), hostname
    assert try_number == killed["task"][4] + 1
    assert start_date.timestamp() - killed["at"] < RETRY_WITHIN
    # ... and the load it interrupted landed once: one ledger row per batch.
    wh = open_warehouse(story.settings.warehouse_url)
    duplicates = wh.query(
        "SELECT table_name, batch_id, count(*) FROM wh.headwater.load_ledger "
        "GROUP BY 1, 2 HAVING count(*) > 1"
    )
    assert duplicates == []


def test_the_runs_completed_across_a_scheduler_restart(story: Story):
    assert story.scheduler["pids"], "the scheduler had processes to kill"
    assert story.scheduler["unfinished_runs_at_kill"] > 0, "nothing was running when it died"
    finished_after = [
        t
        for t in story.tis
        if t["final"] and t["end_date"] and t["end_date"].timestamp() > story.scheduler["restarted_at"]
    ]
    assert finished_after, "no task ran after the restart"


def test_a_redis_outage_delays_or_fails_the_run_clearly_and_the_next_run_recovers(story: Story):
    outage = story.outage
    during = dict(outage["during"])
    assert "success" not in during and "running" not in during, during  # nothing ran meanwhile
    final = outage.get("next") or outage["first"]
    assert all(state == "success" for _run, state in final.values()), final
    if outage.get("next"):  # the first run failed: it must have said why
        assert outage["errors"], "no log line names the broker"


def test_down_leaves_no_process_and_no_listener(story: Story):
    assert story.down["stopped"] > 0
    assert story.left_after_down == []
    assert story.listeners_after_down == []
