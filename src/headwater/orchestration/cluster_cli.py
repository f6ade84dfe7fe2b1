"""``headwater cluster up|status|run|restart|down``: the CLI of :mod:`headwater.orchestration.cluster`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from headwater.settings import Settings

console = Console()


def add_commands(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "cluster", help="the production profile: Airflow on Celery workers, as processes on 127.0.0.1"
    )
    cs = c.add_subparsers(dest="cluster_command", required=True)
    u = cs.add_parser(
        "up", help="start api-server, scheduler, dag-processor, triggerer, N Celery workers (+ lake)"
    )
    u.add_argument(
        "--executor",
        choices=["celery", "local"],
        help="celery (default) or local: LocalExecutor, no broker, no workers (HEADWATER_CLUSTER_EXECUTOR)",
    )
    u.add_argument("--workers", type=int, help="Celery workers (HEADWATER_CLUSTER_WORKERS, default 2)")
    u.add_argument("--concurrency", type=int, help="task slots per worker (default 2)")
    u.add_argument(
        "--worker-queues",
        action="append",
        metavar="Q1,Q2",
        help="queues of the next worker (repeat per worker; unlisted workers serve every queue)",
    )
    u.add_argument("--port", type=int, help="api-server port on 127.0.0.1 (default 8080)")
    u.add_argument("--flower-port", type=int, help="also start Flower on 127.0.0.1 at this port")
    u.add_argument(
        "--env-file", type=Path, default=Path(".env"), help="secrets and settings (never committed)"
    )
    u.add_argument(
        "--connections", help="Airflow connections file to import (holds secrets: keep it out of git)"
    )
    u.add_argument(
        "--variables", help="Airflow variables file (default deploy/airflow/variables.example.json)"
    )
    u.set_defaults(func=cmd_up)
    s = cs.add_parser("status", help="which processes are alive, their listeners, Airflow's health")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    r = cs.add_parser("run", help="have the scheduler run a pipeline's DAGs now, on the workers, and wait")
    r.add_argument("pipeline")
    r.add_argument("--no-wait", action="store_true")
    r.set_defaults(func=cmd_run)
    rs = cs.add_parser("restart", help="restart one process (e.g. scheduler, worker-2)")
    rs.add_argument("component")
    rs.set_defaults(func=cmd_restart)
    d = cs.add_parser("down", help="stop every process `up` started, children included")
    d.set_defaults(func=cmd_down)


def cmd_up(args: argparse.Namespace) -> int:
    from headwater.dbt_nodes import prepare_node_plans
    from headwater.orchestration.cluster import ClusterConfig, up

    settings = Settings.from_env()
    config = ClusterConfig.from_env(
        executor=args.executor,
        workers=args.workers,
        concurrency=args.concurrency,
        port=args.port,
        flower_port=args.flower_port,
        connections_file=args.connections,
        variables_file=args.variables,
    )
    if args.worker_queues:
        config.worker_queues = [q.split(",") for q in args.worker_queues]
    prepare_node_plans(settings)  # per-model DAGs: dbt parses now, not inside Airflow's import timeout
    state = up(settings, config, args.env_file if args.env_file.exists() else None, say=console.print)
    console.print(
        f"cluster up in {state['ready_seconds']} s: Airflow on http://127.0.0.1:{config.port} "
        f"({', '.join(state['components'])}); logs in {state['home']}/logs. "
        "`headwater cluster run <pipeline>` runs a pipeline on the workers; "
        "`headwater cluster down` stops it.",
        soft_wrap=True,
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from headwater.orchestration.cluster import status

    info = status(Settings.from_env())
    if args.json:
        console.print_json(json.dumps(info, default=str))
        return 0 if info["running"] else 1
    if not info["running"] and not info["components"]:
        console.print("no cluster here (`headwater cluster up`)")
        return 1
    table = Table("process", "state")
    for name, state in info["components"].items():
        table.add_row(name, f"[{'green' if state == 'alive' else 'red'}]{state}[/]")
    console.print(table)
    listeners = ", ".join(f"{a}:{p}" for a, p in info["listeners"])
    console.print(f"{info['processes']} processes; listening on {listeners or '(nothing)'}")
    for part, value in (info.get("health") or {}).items():
        console.print(f"  {part}: {value.get('status') if isinstance(value, dict) else value}")
    return 0 if all(s == "alive" for s in info["components"].values()) else 1


def cmd_run(args: argparse.Namespace) -> int:
    from headwater.orchestration.cluster import start_pipeline, wait_pipeline

    settings = Settings.from_env()
    before = start_pipeline(settings, args.pipeline)
    if args.no_wait:
        console.print(f"{args.pipeline}: started on the cluster")
        return 0
    done = wait_pipeline(settings, args.pipeline, before)
    for dag_id, (run_id, state) in done.items():
        console.print(f"{dag_id}: {run_id} [{'green' if state == 'success' else 'red'}]{state}[/]")
    return 0 if done and all(s == "success" for _r, s in done.values()) else 1


def cmd_restart(args: argparse.Namespace) -> int:
    from headwater.orchestration.cluster import restart

    entry = restart(Settings.from_env(), args.component)
    console.print(f"{args.component} restarted (pid {entry['pid']})")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from headwater.orchestration.cluster import down

    result = down(Settings.from_env(), say=console.print)
    console.print(f"cluster down: {result['stopped']} process(es) stopped")
    return 0
