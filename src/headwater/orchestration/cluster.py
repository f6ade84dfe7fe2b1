"""``headwater cluster``: the production profile as real processes on this machine.

Airflow on CeleryExecutor: api-server, scheduler, dag-processor, triggerer and N Celery
workers, with the metadata database and Celery's result backend on Postgres, Redis as the
broker, a Postgres warehouse and an S3 lake (a moto server on 127.0.0.1 unless the lake is
given). The same DAG files, settings and commands as ``deploy/compose.yaml`` describes for
hosts with Docker; here each service is a process.

- Every server binds 127.0.0.1; the log servers of workers, scheduler and triggerer are not
  started (``--skip-serve-logs``): task logs go to one local folder that the api-server
  reads. Workers on other machines need a shared or remote log folder.
- Secrets (Fernet key, JWT secret, API secret key) come from the environment, else from a
  ``.env`` (never committed), else are generated once into ``<home>/cluster/secrets.env``
  (mode 0600): every process of the cluster must share them.
- Each process carries ``HEADWATER_CLUSTER_ID``: ``down`` finds and stops every process of the
  cluster by it, children that left their parent's session included, and nothing else.
- Pools, Variables and Connections are imported from files by the Airflow CLI at ``up``
  (``deploy/airflow/``: pools.json, variables.example.json; a connections file when given).
- A task lost with its worker is found by the scheduler after
  ``task_instance_heartbeat_timeout`` (60 s here, Airflow's default is 300 s) and retried after
  HEADWATER_RETRY_DELAY_SECONDS (15 s here, the specs say minutes): about a minute and a half,
  not nine.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from headwater.errors import ConfigError
from headwater.orchestration.local import PROVISIONING, _airflow, airflow_environ
from headwater.orchestration.processes import is_loopback, listening_sockets
from headwater.settings import Settings

HOST = "127.0.0.1"
CLUSTER_ID = "HEADWATER_CLUSTER_ID"
COMPONENT = "HEADWATER_CLUSTER_COMPONENT"
SECRET_SETTINGS = {
    "AIRFLOW__CORE__FERNET_KEY": 32,
    "AIRFLOW__API_AUTH__JWT_SECRET": 32,
    "AIRFLOW__API__SECRET_KEY": 32,
}
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LAKE_BUCKET = "headwater-lake"
LOAD_QUEUE, TRANSFORM_QUEUE = "headwater_load", "headwater_transform"


@dataclass
class ClusterConfig:
    """What ``up`` starts. Each field has an environment variable (HEADWATER_CLUSTER_*)."""

    executor: str = "celery"
    """celery (the production profile) or local (LocalExecutor: the scheduler runs the tasks
    itself, no broker and no workers; a one-machine deployment, and the benchmark's baseline)."""
    workers: int = 2
    concurrency: int = 2
    """Task slots per worker (Celery processes)."""
    worker_queues: list[list[str]] = field(default_factory=list)
    """Queues per worker; a worker not listed serves every queue."""
    port: int = 8080
    flower_port: int | None = None
    broker_url: str = "redis://127.0.0.1:6379/0"
    metadata_url: str = "postgresql://postgres@127.0.0.1:5432/headwater_airflow"
    warehouse_url: str | None = None
    """None: the user's HEADWATER_WAREHOUSE_URL, else Postgres database headwater_warehouse."""
    lake_port: int | None = None
    """The moto S3 server's port, when the cluster runs its own lake (HEADWATER_LAKE_URL unset)."""
    connections_file: str | None = None
    variables_file: str | None = None

    @classmethod
    def from_env(cls, **given: object) -> ClusterConfig:
        env = os.environ.get
        config = cls(
            executor=env("HEADWATER_CLUSTER_EXECUTOR") or "celery",
            workers=int(env("HEADWATER_CLUSTER_WORKERS") or 2),
            concurrency=int(env("HEADWATER_CLUSTER_CONCURRENCY") or 2),
            port=int(env("HEADWATER_CLUSTER_PORT") or 8080),
            broker_url=env("HEADWATER_CLUSTER_BROKER_URL") or cls.broker_url,
            metadata_url=env("HEADWATER_CLUSTER_METADATA_URL") or cls.metadata_url,
            warehouse_url=env("HEADWATER_WAREHOUSE_URL"),
            connections_file=env("HEADWATER_CLUSTER_CONNECTIONS"),
            variables_file=env("HEADWATER_CLUSTER_VARIABLES"),
        )
        for key, value in given.items():
            if value is not None:
                setattr(config, key, value)
        if config.executor not in ("celery", "local"):
            raise ConfigError(f"HEADWATER_CLUSTER_EXECUTOR: celery or local, not {config.executor!r}")
        if config.executor == "local":
            config.workers = 0
        elif config.workers < 1 or config.concurrency < 1:
            raise ConfigError("a cluster needs at least one worker with at least one slot")
        return config

    def queues_of(self, worker: int) -> list[str]:
        if worker < len(self.worker_queues) and self.worker_queues[worker]:
            return self.worker_queues[worker]
        return ["default", LOAD_QUEUE, TRANSFORM_QUEUE]


# -- where things live --------------------------------------------------------------------------
def cluster_dir(settings: Settings) -> Path:
    return settings.home / "cluster"


def _state_file(settings: Settings) -> Path:
    return cluster_dir(settings) / "cluster.json"


def read_state(settings: Settings) -> dict | None:
    path = _state_file(settings)
    return json.loads(path.read_text()) if path.exists() else None


# -- URLs and secrets ---------------------------------------------------------------------------
def sqlalchemy_url(url: str) -> str:
    """Airflow's metadata URL with psycopg 3: Airflow derives its async URL from the sync one,
    and ``+psycopg2`` would make it ask for asyncpg, which is not installed."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def ensure_database(url: str) -> None:
    """Create the Postgres database the URL names, if it does not exist."""
    import psycopg
    from psycopg import sql

    plain = sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
    base, name = plain.rsplit("/", 1)
    name = name.split("?", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=10) as con:
        if con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines ignored; values may be quoted)."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip().strip("'\"")
    return values


def cluster_secrets(settings: Settings, env_file: Path | None) -> dict[str, str]:
    """The secrets every process shares: the environment's, else the .env's, else generated
    once into ``<home>/cluster/secrets.env`` (0600, under the git-ignored home)."""
    given = read_env_file(env_file) if env_file else {}
    stored_path = cluster_dir(settings) / "secrets.env"
    stored = read_env_file(stored_path)
    out, new = {}, {}
    for key, size in SECRET_SETTINGS.items():
        value = os.environ.get(key) or given.get(key) or stored.get(key)
        if not value:
            value = new[key] = base64.urlsafe_b64encode(secrets.token_bytes(size)).decode()
        out[key] = value
    if new:
        stored_path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in {**stored, **new}.items()]
        fd = os.open(stored_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out_file:
            out_file.write("# Generated by `headwater cluster up`: never commit, never share.\n")
            out_file.write("\n".join(lines) + "\n")
    return out


def cluster_environ(
    settings: Settings, config: ClusterConfig, cluster_id: str, env_file: Path | None
) -> dict[str, str]:
    """The environment of every process of the cluster (the compose file sets the same)."""
    home = cluster_dir(settings)
    airflow_home = home / "airflow"
    env = airflow_environ(settings)
    env.update(read_env_file(env_file) if env_file else {})
    metadata = sqlalchemy_url(config.metadata_url)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW_CONFIG": str(airflow_home / "airflow.cfg"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if config.executor == "celery" else "LocalExecutor",
            # Tasks the executor has in flight. Celery: many more than the workers' slots (the
            # broker holds the rest), or a slot frees only at the executor's next sync with
            # Celery's results, seconds after the task ended. LocalExecutor: its processes.
            "AIRFLOW__CORE__PARALLELISM": str(32 if config.executor == "celery" else 4),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "headwater.orchestration.celery_worker.hostname",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{config.port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,
            "AIRFLOW__CELERY__BROKER_URL": config.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "headwater.orchestration.celery_worker.CELERY_CONFIG",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.concurrency),
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(config.port),
            "AIRFLOW__API__BASE_URL": f"http://{HOST}:{config.port}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
            "AIRFLOW__CORE__AUTH_MANAGER": os.environ.get(
                "AIRFLOW__CORE__AUTH_MANAGER",
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            ),
            # A task lost with its worker: found after a minute, retried after 15 s.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": os.environ.get(
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT", "60"
            ),
            "HEADWATER_RETRY_DELAY_SECONDS": os.environ.get("HEADWATER_RETRY_DELAY_SECONDS", "15"),
            # An idle scheduler looks again after 0.5 s, not 1 s: a DAG is a chain of short
            # tasks, and each link waits for the scheduler's next look.
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": os.environ.get(
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "0.5"
            ),
            # A busy api-server may answer a task's call slowly; Airflow gives up after 5 s.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": os.environ.get(
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "30"
            ),
            "HEADWATER_QUEUE_LOAD": os.environ.get("HEADWATER_QUEUE_LOAD", LOAD_QUEUE),
            "HEADWATER_QUEUE_TRANSFORM": os.environ.get("HEADWATER_QUEUE_TRANSFORM", TRANSFORM_QUEUE),
            "HEADWATER_WAREHOUSE_URL": config.warehouse_url
            or _default_database(config, "headwater_warehouse"),
            CLUSTER_ID: cluster_id,
        }
    )
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    env.pop("HEADWATER_RETRIES", None)  # scheduled runs keep the specs' retries
    if config.lake_port:
        env.update(
            {
                "HEADWATER_LAKE_URL": f"s3://{LAKE_BUCKET}/lake",
                "AWS_ENDPOINT_URL": f"http://{HOST}:{config.lake_port}",
                "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
                "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "headwater"),
                "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "headwater-local-lake"),
            }
        )
    env.update(cluster_secrets(settings, env_file))
    return env


def _default_database(config: ClusterConfig, name: str) -> str:
    base = config.metadata_url.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0]
    return f"{base}/{name}"


# -- the processes ------------------------------------------------------------------------------
def components(config: ClusterConfig) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Name -> (command, extra environment) of every process ``up`` starts."""
    py = sys.executable
    airflow = [py, "-m", "airflow"]
    out: dict[str, tuple[list[str], dict[str, str]]] = {}
    if config.lake_port:
        out["lake"] = ([py, "-m", "moto.server", "-H", HOST, "-p", str(config.lake_port)], {})
    out["api-server"] = (
        [*airflow, "api-server", "--host", HOST, "--port", str(config.port), "--workers", "1"],
        {},
    )
    out["scheduler"] = ([*airflow, "scheduler", "--skip-serve-logs"], {})
    out["dag-processor"] = ([*airflow, "dag-processor"], {})
    out["triggerer"] = ([*airflow, "triggerer", "--skip-serve-logs"], {})
    host = os.uname().nodename
    for i in range(config.workers):
        name = f"worker-{i + 1}"
        command = [
            *airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs",
            "--concurrency", str(config.concurrency), "--queues", ",".join(config.queues_of(i)),
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        out[name] = (command, {"HEADWATER_WORKER_NAME": f"{name}@{host}"})
    if config.flower_port:
        out["flower"] = (
            [*airflow, "celery", "flower", "--hostname", HOST, "--port", str(config.flower_port)],
            {},
        )
    return out


def _start(name: str, command: list[str], env: dict[str, str], logs: Path) -> dict:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            env={**env, COMPONENT: name},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `cluster up`; `down` finds it by its cluster id
        )
    return {
        "pid": proc.pid,
        "started": psutil.Process(proc.pid).create_time(),
        "command": command,
        "log": str(log),
    }


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def up(
    settings: Settings,
    config: ClusterConfig,
    env_file: Path | None = None,
    say: Callable[[str], None] = print,
    timeout: float = 240,
) -> dict:
    """Start the cluster and wait until it takes work; returns the state written to cluster.json."""
    if (state := read_state(settings)) and alive_components(state):
        raise ConfigError(
            f"a cluster is already running from {cluster_dir(settings)}: `headwater cluster down` first"
        )
    if state is not None:  # a cluster that died (machine restart, killed processes): sweep its leftovers
        down(settings, say=lambda _m: None)
    if not os.environ.get("HEADWATER_LAKE_URL") and config.lake_port is None:
        config.lake_port = free_port()
    cluster_id = uuid.uuid4().hex
    home = cluster_dir(settings)
    logs = home / "logs"
    env = cluster_environ(settings, config, cluster_id, env_file)
    ensure_database(config.metadata_url)
    if config.warehouse_url is None:
        ensure_database(env["HEADWATER_WAREHOUSE_URL"])
    _write_airflow_cfg(Path(env["AIRFLOW_CONFIG"]))
    state = {"id": cluster_id, "config": asdict(config), "components": {}, "home": str(home)}
    procs = components(config)
    started = time.monotonic()
    try:
        if "lake" in procs:
            lake_command, _ = procs.pop("lake")
            state["components"]["lake"] = _start("lake", lake_command, env, logs)
            _wait_for(lambda: _http_ok(f"http://{HOST}:{config.lake_port}/"), 30, "the S3 lake (moto)")
            _create_bucket(env)
        say("migrating Airflow's metadata database and importing pools, variables, connections")
        provision(env, config, home / "provision.log")
        for name, (command, extra) in procs.items():
            state["components"][name] = _start(name, command, {**env, **extra}, logs)
        _write_state(settings, state)
        _wait_for(lambda: _healthy(config.port), timeout - (time.monotonic() - started), "the scheduler")
        for name in procs:
            if name.startswith("worker-"):
                _wait_for(_worker_ready(Path(state["components"][name]["log"])), timeout, f"Celery {name}")
    except BaseException:
        _write_state(settings, state)
        down(settings, say=lambda _msg: None)
        raise
    state["ready_seconds"] = round(time.monotonic() - started, 1)
    _write_state(settings, state)
    return state


def _worker_ready(log: Path) -> Callable[[], bool]:
    return lambda: b" ready." in log.read_bytes()


def _write_airflow_cfg(path: Path) -> None:
    """An (empty) airflow.cfg: every setting is in the environment, secrets included, so no
    process writes one with secrets of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("# Headwater's cluster: every setting comes from the environment.\n")


def provision(env: dict[str, str], config: ClusterConfig, log: Path) -> None:
    """Metadata schema, then pools, Variables and Connections from files, by the Airflow CLI."""
    log.parent.mkdir(parents=True, exist_ok=True)
    _airflow(["db", "migrate"], env, log)
    _airflow(["pools", "import", str(PROVISIONING / "pools.json")], env, log)
    variables = config.variables_file or str(PROVISIONING / "variables.example.json")
    _airflow(["variables", "import", variables], env, log)
    if config.connections_file:  # the example holds placeholders, not a usable connection
        _airflow(["connections", "import", "--overwrite", config.connections_file], env, log)


def _create_bucket(env: dict[str, str]) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=LAKE_BUCKET)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except Exception:
        return False


def health(port: int) -> dict | None:
    """The api-server's view of the scheduler, triggerer, dag-processor and metadata DB."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v2/monitor/health", timeout=3) as r:
            return json.loads(r.read())
    except Exception:
        return None


def _healthy(port: int) -> bool:
    h = health(port)
    return bool(h) and h.get("scheduler", {}).get("status") == "healthy"  # type: ignore[union-attr]


def _wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s (logs in the cluster's logs folder)")


def _write_state(settings: Settings, state: dict) -> None:
    path = _state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))


# -- status, restart, down ----------------------------------------------------------------------
def _process(entry: dict) -> psutil.Process | None:
    try:
        p = psutil.Process(entry["pid"])
        if abs(p.create_time() - entry["started"]) < 0.01 and p.status() != psutil.STATUS_ZOMBIE:
            return p
    except psutil.Error:
        pass
    return None


def alive_components(state: dict) -> dict[str, psutil.Process]:
    return {n: p for n, e in state["components"].items() if (p := _process(e)) is not None}


def cluster_processes(state: dict) -> list[psutil.Process]:
    """Every process of the cluster, whoever its parent is now.

    Three marks, because each can fail alone: the cluster id in the environment (inherited by
    every child, but some processes overwrite their environment block with their title: Celery's
    pool, Airflow's task runners); the session (each component starts its own, which children
    share unless they start one themselves); and descent from a process already found.
    """
    sessions = {e["pid"] for e in state["components"].values()}
    found: dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["pid"]):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            if os.getsid(p.pid) in sessions or p.environ().get(CLUSTER_ID) == state["id"]:
                found[p.pid] = p
        except (psutil.Error, OSError):
            continue
    for p in list(found.values()):
        try:
            for child in p.children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.Error:
            continue
    return list(found.values())


def status(settings: Settings) -> dict:
    """Which components are alive, the listeners of the cluster's processes, and health."""
    state = read_state(settings)
    if state is None:
        return {"running": False, "components": {}, "processes": 0, "listeners": []}
    alive = alive_components(state)
    procs = cluster_processes(state)
    listeners = listening_sockets({p.pid for p in procs})
    return {
        "running": bool(alive),
        "id": state["id"],
        "components": {n: ("alive" if n in alive else "dead") for n in state["components"]},
        "processes": len(procs),
        "listeners": sorted({(addr, port) for _pid, addr, port in listeners}),
        "all_loopback": all(is_loopback(addr) for _pid, addr, _port in listeners),
        "health": health(state["config"]["port"]) if alive else None,
        "port": state["config"]["port"],
    }


def _component_processes(state: dict, name: str) -> list[psutil.Process]:
    """The processes of one component: its session, its mark, its descendants."""
    pid = state["components"][name]["pid"]
    out = {}
    for p in cluster_processes(state):
        try:
            if os.getsid(p.pid) == pid or p.environ().get(COMPONENT) == name:
                out[p.pid] = p
        except (psutil.Error, OSError):
            continue
    if (top := _process(state["components"][name])) is not None:
        out.update({c.pid: c for c in top.children(recursive=True)})
    return list(out.values())


def _cluster_environ_of(state: dict) -> dict[str, str]:
    """The environment the cluster's processes started with, read from one that still shows it
    (settings and secrets: a restarted process gets exactly what the others have)."""
    for p in cluster_processes(state):
        try:
            env = p.environ()
        except psutil.Error:
            continue
        if env.get(CLUSTER_ID) == state["id"] and COMPONENT in env:
            env = dict(env)
            env.pop(COMPONENT)
            env.pop("HEADWATER_WORKER_NAME", None)
            return env
    raise ConfigError("the cluster is not running: `headwater cluster up`")


def _terminate(procs: list[psutil.Process], grace: float) -> list[int]:
    """SIGTERM, then SIGKILL what is left after ``grace``; returns the pids killed."""
    for p in procs:
        _signal(p, signal.SIGTERM)
    _gone, left = psutil.wait_procs(procs, timeout=grace)
    for p in left:
        _signal(p, signal.SIGKILL)
    psutil.wait_procs(left, timeout=10)
    return [p.pid for p in left]


def _signal(p: psutil.Process, sig: int) -> None:
    try:
        p.send_signal(sig)
    except psutil.Error:
        pass


def restart(settings: Settings, name: str, grace: float = 30) -> dict:
    """Stop one component (if alive) and start it again with the environment it had."""
    state = read_state(settings)
    if state is None or name not in state["components"]:
        raise ConfigError(f"no cluster component {name!r} (see `headwater cluster status`)")
    env = _cluster_environ_of(state)
    entry = state["components"][name]
    _terminate(_component_processes(state, name), grace)
    if name.startswith("worker-"):
        env["HEADWATER_WORKER_NAME"] = f"{name}@{os.uname().nodename}"
    state["components"][name] = _start(name, entry["command"], env, Path(entry["log"]).parent)
    _write_state(settings, state)
    return state["components"][name]


def down(settings: Settings, grace: float = 30, say: Callable[[str], None] = print) -> dict:
    """Stop every process the cluster started (found by its id), then check none is left."""
    state = read_state(settings)
    if state is None:
        return {"stopped": 0, "killed": []}
    procs = cluster_processes(state)
    # The scheduler first, so it hands out no more work while the workers stop.
    first = [p for n in ("scheduler", "triggerer", "dag-processor") for p in _component_processes(state, n)]
    killed = _terminate(first, grace)
    rest = cluster_processes(state)
    killed += _terminate(rest, grace)
    left = cluster_processes(state)
    killed += _terminate(left, 5)
    if cluster_processes(state):
        raise RuntimeError("cluster processes survived SIGKILL")
    _state_file(settings).unlink(missing_ok=True)
    if killed:
        say(f"{len(killed)} process(es) did not stop in {grace:.0f} s and were killed")
    return {"stopped": len(procs), "killed": killed}


# -- runs through the scheduler -----------------------------------------------------------------
FINISHED = ("success", "failed")


def cluster_env(settings: Settings) -> dict[str, str]:
    """The running cluster's environment (read from one of its processes), for CLI calls."""
    state = read_state(settings)
    if state is None:
        raise ConfigError("no cluster is running here: `headwater cluster up`")
    return _cluster_environ_of(state)


def metadata_rows(env: dict[str, str], sql: str, **params: object) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def start_pipeline(settings: Settings, pipeline: str, timeout: float = 120) -> dict[str, int]:
    """Have the scheduler run a pipeline: its DAGs are unpaused (a paused DAG's first unpause
    makes the scheduler create its scheduled run), a DAG already unpaused is triggered.
    Returns, per DAG id, the newest run's row id before this call (see ``wait_pipeline``)."""
    from headwater.spec import load_spec

    env = cluster_env(settings)
    spec = load_spec(pipeline)
    dag_ids = [shape.dag_id for shape in spec.dags]
    deadline = time.monotonic() + timeout
    while True:  # the dag-processor must have parsed them first
        rows = {d: p for d, p in metadata_rows(env, "SELECT dag_id, is_paused FROM dag") if d in dag_ids}
        if len(rows) == len(dag_ids):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dag-processor has not parsed {sorted(set(dag_ids) - set(rows))} yet")
        time.sleep(1)
    before = {d: _newest_run(env, d) for d in dag_ids}
    paused = [d for d in dag_ids if rows[d]]
    if paused:
        pattern = "^(" + "|".join(paused) + ")$"
        _airflow(["dags", "unpause", "--treat-dag-id-as-regex", "-y", pattern], env)
    first = [s.dag_id for s in spec.dags if not s.scheduled_by]
    for dag_id in first:
        if dag_id not in paused:
            _airflow(["dags", "trigger", dag_id], env)
    return before


def _newest_run(env: dict[str, str], dag_id: str) -> int:
    rows = metadata_rows(env, "SELECT coalesce(max(id), 0) FROM dag_run WHERE dag_id = :d", d=dag_id)
    return int(rows[0][0])


def wait_pipeline(
    settings: Settings,
    pipeline: str,
    before: dict[str, int],
    timeout: float = 1800,
    poll: Callable | None = None,
) -> dict[str, tuple[str, str]]:
    """Wait until each DAG of the pipeline has a finished run newer than ``before`` (a DAG
    scheduled by an Asset only if the DAG producing it succeeded); {dag_id: (run_id, state)}."""
    from headwater.spec import load_spec

    env = cluster_env(settings)
    spec = load_spec(pipeline)
    deadline = time.monotonic() + timeout
    while True:
        done: dict[str, tuple[str, str]] = {}
        for shape in spec.dags:
            rows = metadata_rows(
                env,
                "SELECT run_id, state FROM dag_run WHERE dag_id = :d AND id > :b ORDER BY id LIMIT 1",
                d=shape.dag_id,
                b=before[shape.dag_id],
            )
            if rows and rows[0][1] in FINISHED:
                done[shape.dag_id] = (rows[0][0], rows[0][1])
        upstream_failed = any(state != "success" for _run, state in done.values())
        if len(done) == len(spec.dags) or (upstream_failed and done):
            return done
        if poll:
            poll(done)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pipeline}: runs not finished after {timeout:.0f} s: {done}")
        time.sleep(2)


__all__ = ["ClusterConfig", "down", "restart", "start_pipeline", "status", "up", "wait_pipeline"]
