"""Airflow on this machine: the environment, the metadata database, and one-shot DAG runs.

The embedded default keeps Airflow's home, SQLite metadata and logs under HEADWATER_HOME,
binds every server to 127.0.0.1, and runs a DAG with ``airflow dags test`` (the whole DAG
in one process, no scheduler), which is also what the end-to-end tests use. The runs of one
process share a warm Airflow process (``orchestration/runner.py``): start-up is paid once.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.settings import REPO_ROOT, Settings

PROVISIONING = REPO_ROOT / "deploy" / "airflow"
"""Files the Airflow CLI imports into a new metadata database (pools; the cluster adds
variables and connections): the same files a Docker deployment uses."""
POOLS_FILE = PROVISIONING / "pools.json"


def airflow_environ(settings: Settings) -> dict[str, str]:
    """Environment for Airflow processes; values already set by the user win."""
    home = settings.airflow_home
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": "8080",
        "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8080",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    env = dict(os.environ)
    # Airflow starts its own sub-commands (standalone -> scheduler, api-server) by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in defaults.items():
        env.setdefault(key, value)
    env.update(
        {
            "HEADWATER_HOME": str(settings.home),
            "HEADWATER_WAREHOUSE_URL": settings.warehouse_url,
            "HEADWATER_LAKE_URL": settings.lake_url,
            "HEADWATER_DAGS_FOLDER": str(settings.dags_folder),
        }
    )
    if settings.source_url:
        env["HEADWATER_SOURCE_URL"] = settings.source_url
    env.update({f"HEADWATER_SOURCE_{key}_URL": url for key, url in settings.source_urls.items()})
    if settings.pipeline_paths:
        env["HEADWATER_PIPELINE_PATHS"] = os.pathsep.join(map(str, settings.pipeline_paths))
    return env


def _airflow(
    args: list[str], env: dict[str, str], log: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    out = log.open("ab") if log else subprocess.PIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if check and proc.returncode != 0:
        detail = proc.stdout.decode(errors="replace")[-2000:] if proc.stdout else f"see {log}"
        raise RuntimeError(f"airflow {' '.join(args[:2])} failed:\n{detail}")
    return proc


def ensure_airflow(settings: Settings, env: dict[str, str]) -> None:
    """Create Airflow's metadata database and the DuckDB pool once.

    ``airflow db migrate`` and ``pools set`` cost two Airflow start-ups (about 9 s) for every new
    home. An embedded (SQLite) metadata database is therefore copied from a template migrated
    once per Airflow version and kept in the user's cache; other databases are migrated in place.
    """
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".headwater-ready"
    if marker.exists():
        return
    _write_config(env)
    db = _metadata_db(env)
    if db is not None and not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_metadata_template(env, home / "setup.log"), db)
    else:
        _migrate(env, home / "setup.log")
    marker.write_text("ok\n")


SECRET_OPTIONS = (
    ("api_auth", "jwt_secret", 16),  # signs the tokens tasks present to the execution API
    ("api", "secret_key", 16),  # sessions and log-fetching tokens
    ("core", "fernet_key", 32),  # encrypts connections and variables in the metadata
)


def _write_config(env: dict[str, str]) -> None:
    """An airflow.cfg holding the secrets every process of this home must share (mode 0600).

    Without one, each Airflow process that starts writes its own with fresh random secrets;
    components started together (``headwater ui``) then disagree and a task's token is
    refused ("Invalid auth token"). Everything else keeps Airflow's defaults; an existing
    file, or one named by AIRFLOW_CONFIG, is left alone.
    """
    if env.get("AIRFLOW_CONFIG"):
        return
    path = Path(env["AIRFLOW_HOME"]) / "airflow.cfg"
    if path.exists():
        return
    lines = ["# Written by Headwater: the secrets Airflow's processes of this home share."]
    for section, option, size in SECRET_OPTIONS:
        lines += [f"[{section}]", f"{option} = {base64.urlsafe_b64encode(os.urandom(size)).decode()}"]
    scratch = path.with_name(f".airflow.cfg.{os.getpid()}")
    scratch.write_text("\n".join(lines) + "\n")
    scratch.chmod(0o600)
    try:
        os.link(scratch, path)  # the first writer wins: every process reads the same secrets
    except FileExistsError:
        pass
    finally:
        scratch.unlink()


def _migrate(env: dict[str, str], log: Path) -> None:
    """Create or upgrade the metadata schema, then the pools every DAG's tasks name (a task
    whose pool does not exist is never scheduled, silently)."""
    _airflow(["db", "migrate"], env, log)
    _airflow(["pools", "import", str(POOLS_FILE)], env, log)


def _metadata_template(env: dict[str, str], log: Path) -> Path:
    """A migrated SQLite metadata database with Headwater's pools, built once per Airflow
    version and pools file."""
    import hashlib
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "headwater"
    pools = hashlib.sha256(POOLS_FILE.read_bytes()).hexdigest()[:12]
    template = cache / f"airflow-{version('apache-airflow')}-pools-{pools}.db"
    if template.exists():
        return template
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        db = Path(scratch) / "airflow.db"
        _migrate({**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}, log)
        os.replace(db, template)  # atomic: a concurrent builder's copy is just as good
    return template


@dataclass
class RunOutcome:
    dag_id: str
    run_id: str | None
    state: str
    returncode: int
    seconds: float
    log: Path
    tasks: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    """Why Airflow started no run at all (then ``run_id`` is None), in words for the user."""
    stale_runs_failed: list[str] = field(default_factory=list)
    """Runs a killed earlier process had left ``running``, failed before this run started."""
    other_run_ids: tuple[str, ...] = ()
    """A pipeline with several DAGs: the run ids of its other DAGs' runs (see ``run_ids``)."""

    @property
    def run_ids(self) -> tuple[str, ...]:
        """Every DAG run this outcome stands for: what the run's loads and dbt steps are keyed by."""
        return tuple(r for r in (self.run_id, *self.other_run_ids) if r)


# -- DAG files Airflow would skip ------------------------------------------------------------
def _might_contain_dag(content: bytes) -> bool:
    """Airflow's safe-mode file filter (airflow.utils.file): both words, case-insensitive."""
    lowered = content.lower()
    return b"airflow" in lowered and (b"dag" in lowered or b"asset" in lowered)


def dag_file_problem(env: dict[str, str], dag_id: str) -> str | None:
    """Why Airflow would not find ``dag_id`` in the DAGs folder, or None when it can.

    Airflow's safe mode silently skips a file without the words "airflow" and "dag"; a run
    then fails with no run and no task, which would tell the user nothing. Only files that
    name the DAG (or are named after it) are looked at; parsing is left to Airflow.
    """
    if env.get("AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE", "True").lower() in ("false", "0"):
        return None
    folder = Path(env.get("AIRFLOW__CORE__DAGS_FOLDER", ""))
    if not folder.is_dir():
        return f"the DAGs folder {folder} does not exist (HEADWATER_DAGS_FOLDER)"
    candidates = []
    for path in sorted(folder.rglob("*.py")):
        content = path.read_bytes()
        if path.stem == dag_id or dag_id.encode() in content:
            if _might_contain_dag(content):
                return None
            candidates.append(path)
    if candidates:
        return (
            f"Airflow skips {', '.join(map(str, candidates))}: a DAG file must contain the words "
            f'"airflow" and "dag" (Airflow\'s safe mode reads no other file), so DAG {dag_id} is never '
            'loaded. Add a line such as "# Airflow DAG" to the file.'
        )
    # No file names the DAG: it may be built from data (a loop over discovered pipelines or a
    # spec's DAG list), so leave it to Airflow; a DAG it cannot find is reported from its log.
    return None


def no_run_problem(log: Path, dag_id: str) -> str:
    """What to tell the user when ``airflow dags test`` created no run: its last error line."""
    from headwater.notify import redact

    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "not found" in ln.lower()]
    last = (errors or lines or ["(no output)"])[-1][:300]
    if "not found" in last.lower() or "could not find" in last.lower():
        last += " (no DAG file in the DAGs folder builds it; see HEADWATER_DAGS_FOLDER)"
    return f"Airflow started no run of DAG {dag_id}: {redact(last)}"


# -- runs a killed process left behind --------------------------------------------------------
UNFINISHED_RUN_STATES = ("running", "queued")
UNFINISHED_TASK_STATES = (
    "running", "queued", "scheduled", "up_for_retry", "up_for_reschedule", "deferred", "restarting",
)  # fmt: skip


def _airflow_alive(env: dict[str, str], dag_id: str) -> bool:
    """Is a process using the same Airflow metadata running work that may own a run of ``dag_id``?

    A scheduler (``headwater ui``, production) owns its running runs; another one-shot run
    (``airflow dags test <dag_id>``, or another process's warm runner) owns its own. Either
    way the runs are not stale.
    Processes with another metadata database (another HEADWATER_HOME) do not count.
    """
    import psutil

    from headwater.orchestration.runner import MODULE

    key = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ours = {os.getpid(), _runner.proc.pid if _runner else None}  # our runner is idle right now
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = p.info.get("cmdline") or []
        if p.info["pid"] in ours:
            continue
        # Another process's runner may be running any DAG of its environment; a runner kept
        # warm between commands runs one only while a command holds its lock.
        runner = MODULE in cmd
        if runner and "--socket" in cmd and not _lock_held(cmd[cmd.index("--socket") + 1] + ".lock"):
            continue
        if not runner and not any("airflow" in part for part in cmd):
            continue
        if not (runner or "scheduler" in cmd or ("dags" in cmd and "test" in cmd and dag_id in cmd)):
            continue
        try:
            theirs = p.environ().get(key)
        except psutil.Error:
            return True  # cannot tell whose it is: leave the runs alone
        if theirs is None or theirs == env.get(key):
            return True
    return False


def _lock_held(path: str) -> bool:
    """Whether a live process holds the lock file (a killed one's lock is released with it)."""
    import fcntl

    try:
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def fail_stale_runs(env: dict[str, str], dag_id: str) -> list[str]:
    """Mark the runs of ``dag_id`` left running/queued by a killed process as failed.

    A SIGKILLed ``headwater run`` leaves its run ``running`` in the metadata; a scheduler
    started later would resume it and load its old batches over newer data. Failing them
    first (with their unfinished tasks) ends that; the loads also refuse older batches.
    Returns the run ids failed. Does nothing while Airflow processes that may own them live.
    """
    import sqlalchemy as sa

    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    db = _metadata_db(env)
    if not url or (db is not None and not db.exists()):
        return []
    if _airflow_alive(env, dag_id):
        return []
    engine = sa.create_engine(url)
    try:
        with engine.begin() as con:
            # Only states change: end dates stay unset rather than risk a format Airflow's
            # own column type would not read back.
            runs = sa.table("dag_run", sa.column("dag_id"), sa.column("run_id"), sa.column("state"))
            tis = sa.table("task_instance", sa.column("dag_id"), sa.column("run_id"), sa.column("state"))
            stale = [
                r[0]
                for r in con.execute(
                    sa.select(runs.c.run_id).where(
                        runs.c.dag_id == dag_id, runs.c.state.in_(UNFINISHED_RUN_STATES)
                    )
                )
            ]
            if stale:
                con.execute(
                    tis.update()
                    .where(
                        tis.c.dag_id == dag_id,
                        tis.c.run_id.in_(stale),
                        tis.c.state.in_(UNFINISHED_TASK_STATES),
                    )
                    .values(state="failed")
                )
                con.execute(
                    runs.update()
                    .where(runs.c.dag_id == dag_id, runs.c.run_id.in_(stale))
                    .values(state="failed")
                )
    except sa.exc.SQLAlchemyError:
        return []  # no metadata yet (first run): nothing can be stale
    finally:
        engine.dispose()
    return stale


def _metadata_db(env: dict[str, str]) -> Path | None:
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def latest_run_number(env: dict[str, str], dag_id: str) -> int:
    """The metadata row id of the DAG's newest run (0 if none), to tell our run from older ones."""
    db = _metadata_db(env)
    if db is None or not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT max(id) FROM dag_run WHERE dag_id = ?", [dag_id]).fetchone()
        return int(row[0] or 0)
    finally:
        con.close()


def task_states(
    env: dict[str, str], dag_id: str, after: int
) -> tuple[str | None, str | None, dict[str, str]]:
    """(run_id, run state, {task label: state}) of the newest run with a row id above ``after``."""
    db = _metadata_db(env)
    if db is None or not db.exists():
        return None, None, {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = con.execute(
                "SELECT run_id, state FROM dag_run WHERE dag_id = ? AND id > ? ORDER BY id DESC LIMIT 1",
                [dag_id, after],
            ).fetchone()
            if row is None:
                return None, None, {}
            tis = con.execute(
                "SELECT task_id, map_index, rendered_map_index, state FROM task_instance "
                "WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
                [dag_id, row[0]],
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None, None, {}
    states = {}
    for task_id, map_index, rendered, state in tis:
        label = task_id if map_index < 0 else f"{task_id}[{rendered or map_index}]"
        states[label] = state or "queued"
    return row[0], row[1], states


# -- the warm Airflow process one-shot runs share ---------------------------------------------
def _request(dag_id: str, conf: dict, log: Path, env: dict[str, str]) -> str:
    """One run for a runner (orchestration/runner.py): a JSON line."""
    return json.dumps(
        {"dag_id": dag_id, "conf": conf, "log": str(log), "env": env, "dagfile": _dag_file(env, dag_id)}
    )


def _dag_file(env: dict[str, str], dag_id: str) -> str | None:
    """The DAG file that probably builds ``dag_id``: named after it or after its pipeline
    (``pacbikes.py`` builds ``pacbikes_staging``); a guess the runner falls back from."""
    folder = Path(env.get("AIRFLOW__CORE__DAGS_FOLDER", ""))
    stems = [p for p in folder.glob("*.py") if dag_id == p.stem or dag_id.startswith(f"{p.stem}_")]
    return str(max(stems, key=lambda p: len(p.stem))) if stems else None


def _env_key_text(env: dict[str, str]) -> str:
    """What a runner is bound to at start: Airflow's configuration (its metadata database is
    connected at import) and where programs are found; the rest travels with each request."""
    return "\0".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("AIRFLOW") or k == "PATH")


def _env_key(env: dict[str, str]) -> int:
    return hash(_env_key_text(env))


class AirflowRunner:
    """A ``headwater.orchestration.runner`` process for one Airflow environment (see there)."""

    def __init__(self, env: dict[str, str], first_log: Path) -> None:
        from headwater.orchestration.runner import MODULE

        self.key = _env_key(env)
        with first_log.open("ab") as errors:  # anything before the runner takes over its fds
            self.proc = subprocess.Popen(
                [sys.executable, "-m", MODULE, str(first_log)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def submit(self, dag_id: str, conf: dict, log: Path, env: dict[str, str]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(_request(dag_id, conf, log, env) + "\n")
        self.proc.stdin.flush()

    def result(self, timeout: float) -> int | None:
        """The finished run's return code, or None while it runs (a dead runner: its exit code)."""
        import select

        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:  # the runner died mid-run (killed, out of memory): the run ended with it
            return self.proc.wait()
        return int(json.loads(line)["returncode"])

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()  # end of requests: the runner exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WarmRunner:
    """A client of a runner kept warm between commands (see orchestration/runner.py): holds the
    runner's lock for the length of one run, over one connection."""

    def __init__(self, sock: Any, lock: Any) -> None:
        self.sock, self.lock = sock, lock

    def submit(self, dag_id: str, conf: dict, log: Path, env: dict[str, str]) -> bool:
        """Hand the run over; False when the runner ended before taking it (nothing ran)."""
        from headwater.orchestration.runner import ACCEPTED

        try:
            self.sock.sendall((_request(dag_id, conf, log, env) + "\n").encode())
            # Byte by byte: nothing past the acknowledgement is read, so select() in result()
            # sees the reply line. A fresh runner acknowledges once Airflow is imported.
            got = b""
            while not got.endswith(b"\n"):
                byte = self.sock.recv(1)
                if not byte:
                    break
                got += byte
        except OSError:  # reset: the listener's process ended with the request unread
            got = b""
        if got != ACCEPTED:
            self.close()
            return False
        self.reply = self.sock.makefile("r")
        return True

    def result(self, timeout: float) -> int | None:
        import select

        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        try:
            line = self.reply.readline()
        except OSError:
            line = ""
        self.close()
        if not line:  # the runner died mid-run (killed, out of memory): the run ended with it
            return -signal.SIGKILL
        return int(json.loads(line)["returncode"])

    def close(self) -> None:
        self.sock.close()
        self.lock.close()  # releases the lock: the next command may use the runner


def _code_fingerprint() -> str:
    """The installed Headwater and Airflow: a warm runner of older code is not used."""
    import hashlib
    from importlib.metadata import version

    import headwater

    digest = hashlib.sha256(f"{sys.executable} {version('apache-airflow')}".encode())
    for path in sorted(Path(headwater.__file__).parent.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    return digest.hexdigest()


def _warm_socket(env: dict[str, str]) -> Path:
    """Where the runner for this Airflow configuration and code listens (short: a Unix socket
    path has at most 107 bytes; in the temp folder, named for this user)."""
    import hashlib

    key = hashlib.sha256(f"{_env_key_text(env)}\0{_code_fingerprint()}".encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"headwater-runner-{os.getuid()}-{key}.sock"


def _warm_runner(env: dict[str, str], log: Path, idle_seconds: int, fresh: bool = False) -> WarmRunner | None:
    """A runner kept warm for ``env`` (started if there is none; with ``fresh``, a new one in
    place of whatever listens now), or None when another command is using it (the caller then
    starts a runner of its own)."""
    import fcntl
    import socket

    from headwater.orchestration.runner import MODULE

    path = _warm_socket(env)
    lock = open(f"{path}.lock", "a")  # noqa: SIM115 - held for the whole run, closed by WarmRunner
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    for attempt in range(2):
        if not (fresh and attempt == 0):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                return WarmRunner(sock, lock)
            except OSError:
                sock.close()
        if attempt:
            break
        # None listening (or a dead one's file left): start one, in its own session, so that it
        # outlives this command; it binds the socket before importing Airflow.
        path.unlink(missing_ok=True)
        with log.open("ab") as errors:
            subprocess.Popen(
                [sys.executable, "-m", MODULE, "--socket", str(path), str(idle_seconds),
                 env["AIRFLOW_HOME"], str(log)],
                env=env, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    lock.close()
    return None


_runner: AirflowRunner | None = None


def _runner_for(env: dict[str, str], log: Path) -> AirflowRunner:
    """This process's runner for ``env``: reused while alive and for the same environment."""
    global _runner
    if _runner is not None and _runner.alive() and _runner.key == _env_key(env):
        return _runner
    close_runner()
    _runner = AirflowRunner(env, log)
    return _runner


def close_runner() -> None:
    """End this process's runner (also at exit)."""
    global _runner
    if _runner is not None:
        _runner.close()
        _runner = None


atexit.register(close_runner)


def run_dag(
    settings: Settings,
    dag_id: str,
    conf: dict | None = None,
    on_poll: Callable[[str | None, dict[str, str]], None] | None = None,
    retries: int = 0,
) -> RunOutcome:
    """Run one DAG to completion via ``airflow dags test``, in this process's warm runner.

    Retries default to 0 here: a one-shot run should fail fast and say why, not sit out the
    spec's retry delay (scheduled runs keep the spec's retries).
    """
    env = airflow_environ(settings)
    env["HEADWATER_RETRIES"] = str(retries)
    problem = dag_file_problem(env, dag_id)
    if problem:
        from headwater.errors import ConfigError

        raise ConfigError(problem)
    ensure_airflow(settings, env)
    stale = fail_stale_runs(env, dag_id)
    log = settings.airflow_home / "runs" / f"{dag_id}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    before = latest_run_number(env, dag_id)
    runner: AirflowRunner | WarmRunner | None = None
    if settings.keep_warm_seconds:
        # A runner that ends before taking the run (killed, or a dead one's listener still
        # held open) ran nothing: the run goes to a fresh runner, then to one of our own.
        for fresh in (False, True):
            warm = _warm_runner(env, log, settings.keep_warm_seconds, fresh=fresh)
            if warm is None or warm.submit(dag_id, conf or {}, log, env):
                runner = warm
                break
    if runner is None:
        runner = _runner_for(env, log)
        runner.submit(dag_id, conf or {}, log, env)
    while (returncode := runner.result(timeout=0.5)) is None:
        if on_poll:
            run_id, _, states = task_states(env, dag_id, before)
            on_poll(run_id, states)
    run_id, state, states = task_states(env, dag_id, before)
    if on_poll:
        on_poll(run_id, states)
    return RunOutcome(
        dag_id,
        run_id,
        state or ("success" if returncode == 0 else "failed"),
        returncode,
        time.time() - started,
        log,
        states,
        problem=None if run_id else no_run_problem(log, dag_id),
        stale_runs_failed=stale,
    )
