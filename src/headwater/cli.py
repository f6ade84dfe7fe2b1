"""The ``headwater`` command: generate sources, run pipelines, open Airflow, show status."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from headwater import discovery
from headwater.errors import HeadwaterError
from headwater.orchestration import cluster_cli
from headwater.settings import Settings
from headwater.spec import available_pipelines, load_spec

console = Console()

STATE_STYLE = {
    "success": "green",
    "skipped": "yellow",
    "failed": "red",
    "upstream_failed": "red",
    "running": "cyan",
    "queued": "white",
    "up_for_retry": "magenta",
    "scheduled": "white",
}


def _generator(pipeline: str):
    """The pipeline's spec and its folder's generator.py (loaded by path: see discovery)."""
    spec = load_spec(pipeline)
    return spec, discovery.generator(spec)


def _other_sources(settings: Settings, spec) -> dict[str, Any]:
    """``other_sources={name: url}`` for a generator whose pipeline has sources beside its main
    one (a leads folder, a log folder), so it writes them too; nothing for a single source."""
    others = {
        s.name: settings.source_url_for(spec, s.name) for s in spec.sources if s.name != spec.source.name
    }
    return {"other_sources": others} if others else {}


def _source_exists(gen, url: str, **kwargs: Any) -> bool:
    """Whether the synthetic source was generated before (so a demo run advances it).

    A generator may answer itself (``source_exists(url, …)``); otherwise a SQLite file or a
    non-empty local folder counts as generated, and any other URL as not yet.
    """
    if hasattr(gen, "source_exists"):
        return bool(gen.source_exists(url, **kwargs))
    if url.startswith("sqlite:///"):
        return os.path.exists(url.removeprefix("sqlite:///"))
    if "://" not in url:
        return os.path.isdir(url) and any(os.scandir(url))
    return False


def cmd_generate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.url and not args.pipeline:
        raise HeadwaterError("--url needs a pipeline name: each pipeline has its own source")
    names = (
        [args.pipeline]
        if args.pipeline
        else [n for n in available_pipelines() if discovery.pipeline_module(load_spec(n), "generator")]
    )
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    if not args.advance and (args.new_fraction is not None or args.update_fraction is not None):
        raise HeadwaterError("--new-fraction and --update-fraction go with --advance")
    for name in names:
        spec, gen = _generator(name)
        url = args.url or settings.source_url_for(spec)
        kwargs: dict[str, Any] = {"seed": args.seed, "as_of": as_of, **_other_sources(settings, spec)}
        if spec.source.schema:
            kwargs["schema"] = spec.source.schema
        started = time.monotonic()
        with console.status(f"{'Advancing' if args.advance else 'Generating'} {spec.name} source…"):
            if args.advance:
                fractions = {"new_fraction": args.new_fraction, "update_fraction": args.update_fraction}
                counts = gen.advance(url, **kwargs, **{k: v for k, v in fractions.items() if v is not None})
            else:
                counts = gen.generate(url, scale=args.scale, **kwargs)
        _print_counts(f"{spec.name} source ({time.monotonic() - started:.1f} s)", counts)
    return 0


def _print_counts(title: str, counts: dict[str, int]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for k, v in counts.items():
        table.add_row(k, f"{v:,}")
    console.print(table)


def _progress_table(pipeline: str, states: dict[str, str], elapsed: float) -> Table:
    table = Table(title=f"{pipeline}: running in Airflow ({elapsed:.0f} s)", title_justify="left")
    table.add_column("task")
    table.add_column("state")
    for task, state in states.items():
        table.add_row(escape(task), f"[{STATE_STYLE.get(state, 'white')}]{state}[/]")
    if not states:
        table.add_row("starting Airflow…", "")
    return table


def run_pipeline(
    pipeline: str,
    full_refresh: bool = False,
    skip: list[str] | None = None,
    progress: bool = True,
    force_transform: bool = False,
):
    from headwater.orchestration.fixtures import fixture_services
    from headwater.orchestration.pipeline_run import combined

    settings = Settings.from_env()
    spec = load_spec(pipeline)
    conf: dict[str, Any] = {"full_refresh": full_refresh, "force_transform": force_transform}
    for step in skip or []:
        if step not in spec.dbt_steps:
            raise HeadwaterError(f"--skip {step}: not a step of {pipeline} ({', '.join(spec.dbt_steps)})")
        conf[f"run_{step}"] = False
    started = time.monotonic()
    # A pipeline whose source is a service may serve a stand-in for the run (generator.serve).
    with fixture_services(spec, settings) as settings:
        outcomes = _run_dags(settings, spec, conf, progress, started)
    return settings, spec, combined(outcomes)  # every DAG of the pipeline, producers first


def _run_dags(settings: Settings, spec, conf: dict[str, Any], progress: bool, started: float):
    from headwater.orchestration.pipeline_run import run_pipeline_dags

    pipeline = spec.name
    if progress and console.is_terminal:
        with Live(_progress_table(pipeline, {}, 0), console=console, refresh_per_second=4) as live:
            return run_pipeline_dags(
                settings,
                spec,
                conf,
                lambda _r, s: live.update(_progress_table(pipeline, s, time.monotonic() - started)),
            )
    else:
        console.print(f"running {pipeline} in Airflow (airflow dags test)…")
        seen: dict[str, str] = {}

        def report(_run: str | None, states: dict[str, str]) -> None:
            for task, state in states.items():
                if seen.get(task) != state and state in ("success", "failed", "skipped", "upstream_failed"):
                    console.print(f"  {escape(task)}: {state}")
                    seen[task] = state

        return run_pipeline_dags(settings, spec, conf, report if progress else None)


def cmd_run(args: argparse.Namespace) -> int:
    settings, spec, outcome = run_pipeline(
        args.pipeline, args.full_refresh, args.skip, not args.quiet, args.force_transform
    )
    _summary(settings, spec, outcome)
    return 0 if outcome.state == "success" else 1


def _summary(settings: Settings, spec, outcome) -> None:
    from headwater.report import run_report
    from headwater.transform import dbt_paths

    ok = outcome.state == "success"
    colour = "green" if ok else "red"
    for stale in outcome.stale_runs_failed:
        console.print(f"[yellow]marked run {escape(stale)}, left running by a killed process, as failed[/]")
    if outcome.run_id is None:  # Airflow never started the run: say why, not "run None"
        problem = escape(outcome.problem or "Airflow started no run")
        console.print(f"[red]{problem}; Airflow log: {outcome.log}[/]")
        return
    console.print(
        f"[{colour}]{spec.name}: DAG run {outcome.run_id} {outcome.state} in {outcome.seconds:.1f} s[/]"
    )
    if not ok:
        # report_run fails on purpose when the run failed (after alerting): not a cause
        failed = [t for t, s in outcome.tasks.items() if s == "failed" and t != "report_run"]
        blocked = sum(1 for s in outcome.tasks.values() if s == "upstream_failed")
        console.print(
            f"[red]failed: {', '.join(failed) or 'no task recorded a failure'}"
            + (f" ({blocked} downstream tasks not run)" if blocked else "")
            + f"; Airflow log: {outcome.log}[/]"
        )
    try:
        report = run_report(spec, settings.warehouse_url, outcome.run_ids)
    except Exception as e:  # the summary must not hide the run's own outcome
        console.print(f"[yellow]could not read the run report: {e}[/]")
        return
    table = Table(title="raw tables", title_justify="left")
    for col in ("table", "rows in warehouse", "moved this run", "changed", "watermark"):
        table.add_column(col, justify="left" if col in ("table", "watermark") else "right")
    for t in spec.tables:
        loaded = report.loaded.get(t.name)
        table.add_row(
            t.name,
            f"{report.raw_rows.get(t.name, 0):,}",
            f"{loaded['rows']:,}" if loaded else "skipped",
            f"{loaded['changed']:,}" if loaded else "-",
            str(report.watermarks.get(t.name) or "-"),
        )
    console.print(table)
    tests = report.tests()
    console.print(
        f"dbt: {report.models_built} models built; tests: {tests['pass']} passed, "
        f"{tests['warn']} warned, {tests['fail'] + tests['error']} failed"
    )
    if settings.warehouse_kind == "duckdb":
        console.print(f"warehouse: {settings.warehouse_url.removeprefix('duckdb:///')}")
    docs = dbt_paths(spec, settings)["target"] / "index.html"
    if docs.exists():
        console.print(f"dbt docs: {docs}")
    console.print(f"Airflow log of this run: {outcome.log}")


def cmd_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    status = 0
    for pipeline in available_pipelines():
        spec = load_spec(pipeline)
        gen = discovery.pipeline_module(spec, "generator")
        url = settings.source_url_for(spec)
        kwargs = {"schema": spec.source.schema} if spec.source.schema else {}
        if gen is None:
            console.rule(f"{pipeline}: no generator; reading its source as it is")
        elif args.fresh or not _source_exists(gen, url, **kwargs):
            console.rule(f"{pipeline}: generating the synthetic source (scale {args.scale})")
            counts = gen.generate(url, scale=args.scale, **kwargs, **_other_sources(settings, spec))
            _print_counts(f"{pipeline} source", counts)
        else:
            console.rule(f"{pipeline}: advancing the synthetic source (new and changed rows)")
            _print_counts(
                f"{pipeline} source changes", gen.advance(url, **kwargs, **_other_sources(settings, spec))
            )
        console.rule(f"{pipeline}: running the DAG")
        settings, spec, outcome = run_pipeline(pipeline)
        _summary(settings, spec, outcome)
        status |= outcome.state != "success"
    console.rule("next")
    console.print("See the dashboards:   [bold].venv/bin/headwater dashboard[/]  (http://127.0.0.1:8501)")
    console.print("Open the Airflow UI:  [bold].venv/bin/headwater ui[/]  (http://127.0.0.1:8080)")
    console.print("Run status:           [bold].venv/bin/headwater status[/]")
    return status


def cmd_status(args: argparse.Namespace) -> int:
    from headwater.dashboard.db import WarehouseUnavailable
    from headwater.monitoring.status import read_status, render

    settings = Settings.from_env()
    for pipeline in [args.pipeline] if args.pipeline else available_pipelines():
        try:
            render(console, read_status(load_spec(pipeline), settings.warehouse_url))
        except WarehouseUnavailable as e:
            console.print(f"[yellow]{escape(str(e))}[/]")
            return 1
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from headwater.monitoring.metrics import HeadwaterCollector, serve
    from headwater.orchestration.local import airflow_environ
    from headwater.urls import mask_url

    settings = Settings.from_env()
    airflow_db = args.airflow_db or airflow_environ(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    server, thread = serve(HeadwaterCollector(settings.warehouse_url, airflow_db), args.host, args.port)
    console.print(
        f"Prometheus metrics on http://{args.host}:{server.server_port}/metrics (warehouse "
        f"{settings.describe()['warehouse']}, Airflow metadata {mask_url(airflow_db)}); Ctrl-C stops it.",
        soft_wrap=True,
    )
    sys.stdout.flush()

    def stop(*_args: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while thread.is_alive():
            thread.join(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from headwater.monitoring.digest import digest_message, read_digest
    from headwater.notify import send

    payload = digest_message(read_digest(Settings.from_env().warehouse_url, args.hours), args.hours)
    console.print(payload["text"])
    for block in payload["blocks"][1:]:
        console.print(escape(block["text"]["text"]))
    if args.post and not send(payload):
        return 1
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from headwater.dbt_nodes import prepare_node_plans
    from headwater.orchestration.ui import serve

    settings = Settings.from_env()
    prepare_node_plans(settings)  # per-model DAGs: dbt parses now, not inside Airflow's import timeout
    return serve(settings, args.port, lambda text: console.print(text, soft_wrap=True))


def cmd_dashboard(args: argparse.Namespace) -> int:
    from headwater.dashboard.server import streamlit_command, streamlit_environ, url

    warehouse = Settings.from_env().describe()["warehouse"]
    console.print(
        f"Headwater dashboards on {url(args.port)} (warehouse {warehouse}, read-only); Ctrl-C stops them.",
        soft_wrap=True,
    )
    sys.stdout.flush()
    command = streamlit_command(args.port)
    os.execve(command[0], command, streamlit_environ(dict(os.environ)))  # Streamlit replaces this process


def cmd_state(args: argparse.Namespace) -> int:
    from headwater.warehouse import open_warehouse

    settings = Settings.from_env()
    warehouse = open_warehouse(settings.warehouse_url)
    spec = load_spec(args.pipeline)
    if args.action == "reset":
        n = warehouse.reset_watermarks(spec.name, spec.table(args.table).name if args.table else None)
        console.print(
            f"removed {n} watermark(s): the next run of {spec.name} loads "
            f"{args.table or 'every table'} in full"
        )
        return 0
    if args.action == "set":
        if not (args.table and args.watermark):
            raise HeadwaterError("state set needs --table and --watermark")
        table = spec.table(args.table)
        if table.cursor is None:
            raise HeadwaterError(f"{spec.name}.{table.name} has no cursor: it always loads in full")
        current = warehouse.watermarks(spec.name).get(table.name)
        warehouse.set_watermark(
            spec.name, table, args.watermark, (current and current.cursor_type) or args.type
        )
    states = warehouse.watermarks(spec.name)
    out = Table(title=f"{spec.name}: watermarks", title_justify="left")
    for col in ("table", "cursor", "watermark", "set by run", "updated"):
        out.add_column(col)
    for t in spec.tables:
        st = states.get(t.name)
        out.add_row(
            t.name,
            t.cursor or "(full)",
            (st and st.watermark) or "-",
            (st and st.run_id) or "-",
            str(st.updated_at) if st else "-",
        )
    console.print(out)
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from headwater.warehouse import open_warehouse

    rows = open_warehouse(Settings.from_env().warehouse_url).quarantined(
        args.pipeline, args.table, args.limit
    )
    if not rows:
        console.print("no quarantined rows")
    for pipeline, table, run_id, reason, record, at, file, line in rows:  # one block each
        console.print(f"[bold]{pipeline}.{table}[/]  run {escape(str(run_id))}  at {at}", soft_wrap=True)
        if file:
            console.print(f"  from: {escape(str(file))}" + (f", line {line}" if line else ""), soft_wrap=True)
        console.print(f"  reason: {escape(str(reason))}", soft_wrap=True)
        console.print(f"  record: {escape(str(record))}", soft_wrap=True)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from headwater import flow

    spec = load_spec(args.pipeline)
    results = flow.replay(spec, args.table, Settings.from_env(), args.batch, args.fill_gaps)
    for r in results:
        console.print(
            f"{spec.name}.{r['table']} batch {r['batch_id']}: {r['rows_in_batch']:,} rows, "
            f"{r['rows_changed']:,} changed"
        )
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from headwater import flow

    spec = load_spec(args.pipeline)
    run_id = "backfill__" + datetime.utcnow().strftime("%Y%m%dT%H%M%S")
    result = flow.backfill(spec, args.table, args.start, args.end, Settings.from_env(), run_id)
    if result is None:
        console.print(f"{spec.name}.{args.table}: no rows in [{args.start}, {args.end})")
    else:
        console.print(
            f"{spec.name}.{args.table}: {result['rows_in_batch']:,} rows re-read, "
            f"{result['rows_changed']:,} changed; watermark unchanged ({result['watermark_after']})"
        )
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from headwater.reconcile import reconcile_pipeline
    from headwater.reconcile.output import print_reports

    spec = load_spec(args.pipeline)
    tables = [spec.table(args.table).name] if args.table else None
    reports = reconcile_pipeline(spec, Settings.from_env(), tables)
    print_reports(console, spec.name, reports, args.json)
    # 0: equal (or not listable); 1: differences found; 2: a comparison could not run
    if any(r.status == "error" for r in reports):
        return 2
    return 1 if any(r.status in ("different", "empty_source") for r in reports) else 0


def cmd_pipelines(args: argparse.Namespace) -> int:
    for name in available_pipelines():
        console.print(f"{name}: {load_spec(name).description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="headwater", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write (or --advance) a pipeline's synthetic source")
    g.add_argument("pipeline", nargs="?", help="one pipeline (default: every pipeline with a generator)")
    g.add_argument("--scale", type=float, default=1.0, help="1 = a one-minute demo; 100 = 1M+ tickets")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--as-of", help="ISO timestamp the data ends at (default: now, UTC)")
    g.add_argument("--advance", action="store_true", help="add new rows and update existing ones")
    g.add_argument("--new-fraction", type=float, help="with --advance: new rows per existing row")
    g.add_argument("--update-fraction", type=float, help="with --advance: the fraction of rows that change")
    g.add_argument("--url", help="target database URL (default: the pipeline's source URL)")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", help="run a pipeline's DAG once via Airflow, in-process")
    r.add_argument("pipeline")
    r.add_argument("--full-refresh", action="store_true")
    r.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="STEP",
        help="switch off a dbt step for this run (repeatable)",
    )
    r.add_argument(
        "--force-transform",
        action="store_true",
        help="run the dbt steps even if nothing changed since the last transform",
    )
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="generate every pipeline's source and run every DAG")
    d.add_argument("--scale", type=float, default=1.0)
    d.add_argument("--fresh", action="store_true", help="regenerate sources instead of advancing")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("status", help="recent runs, rows per table, watermarks, freshness, dbt results")
    s.add_argument("pipeline", nargs="?")
    s.set_defaults(func=cmd_status)

    me = sub.add_parser("metrics", help="Prometheus endpoint (run ledger, Airflow health) on 127.0.0.1")
    me.add_argument("--port", type=int, default=9464)
    me.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    me.add_argument("--airflow-db", help="Airflow metadata DB URL (default: Airflow's configured one)")
    me.set_defaults(func=cmd_metrics)

    dg = sub.add_parser("digest", help="summary of every pipeline's runs in the last day (--post: to Slack)")
    dg.add_argument("--hours", type=float, default=24)
    dg.add_argument("--post", action="store_true", help="send it to Slack (the headwater_slack webhook)")
    dg.set_defaults(func=cmd_digest)

    u = sub.add_parser("ui", help="Airflow (UI, scheduler, dag-processor, triggerer) on 127.0.0.1")
    u.add_argument("--port", type=int, default=8080)
    u.set_defaults(func=cmd_ui)

    db = sub.add_parser("dashboard", help="analytics dashboards (Streamlit) on 127.0.0.1, read-only")
    db.add_argument("--port", type=int, default=8501)
    db.set_defaults(func=cmd_dashboard)

    st = sub.add_parser("state", help="show, reset or set a pipeline's watermarks")
    st.add_argument("action", choices=["show", "reset", "set"])
    st.add_argument("pipeline")
    st.add_argument("--table")
    st.add_argument("--watermark", help="state set: the cursor value the next run reads from")
    st.add_argument("--type", default="TIMESTAMP", help="state set: cursor type when none is stored")
    st.set_defaults(func=cmd_state)

    q = sub.add_parser("quarantine", help="rows that could not be loaded, with the reason")
    q.add_argument("pipeline", nargs="?")
    q.add_argument("--table")
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_quarantine)

    rp = sub.add_parser("replay", help="reload a warehouse table from its lake batches (no source access)")
    rp.add_argument("pipeline")
    rp.add_argument("--table", required=True)
    rp.add_argument("--batch", help="one batch id (default: every batch, oldest first)")
    rp.add_argument(
        "--fill-gaps",
        action="store_true",
        help="apply a batch older than the table's last load anyway: it only adds rows the table "
        "lacks and versions with a newer cursor; it never replaces a newer row or deletes one",
    )
    rp.set_defaults(func=cmd_replay)

    bf = sub.add_parser("backfill", help="reload a cursor window of a table; the watermark stays put")
    bf.add_argument("pipeline")
    bf.add_argument("--table", required=True)
    bf.add_argument("--from", dest="start", help="inclusive lower cursor bound")
    bf.add_argument("--to", dest="end", help="exclusive upper cursor bound")
    bf.set_defaults(func=cmd_backfill)

    rc = sub.add_parser(
        "reconcile", help="compare each table's source and warehouse copy (missing/extra/different)"
    )
    rc.add_argument("pipeline")
    rc.add_argument("--table", help="only this table")
    rc.add_argument("--json", action="store_true", help="JSON instead of a table")
    rc.set_defaults(func=cmd_reconcile)

    sub.add_parser("pipelines", help="list the pipelines").set_defaults(func=cmd_pipelines)
    cluster_cli.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HeadwaterError as e:
        console.print(f"[red]error:[/] {e}", soft_wrap=True)  # paths stay whole when copied
        return 2


if __name__ == "__main__":
    sys.exit(main())
