"""Family "dbt": the cost of dbt's start-up, in-process runner vs one CLI process per step.

On a warehouse the DAG family already built (travel_bookings at its smallest scale), the
pipeline's eight dbt steps (seed, source freshness, source tests, staging, snapshot, core,
test all, docs) run twice, on the same project, profiles and warehouse:

* **in-process**: one Python process calls Headwater's ``transform.run_step`` for each step
  (dbt's programmatic ``dbtRunner``, as every Airflow dbt task does), which also records the
  per-node results in the warehouse;
* **CLI**: ``dbt <step>`` as a fresh process per step, with the same arguments and the same
  environment (the profiles.yml reads ``env_var()``s), as a ``BashOperator`` per step would.

Both are timed from the parent, process start to exit, so both pay Python's start-up and
dbt's imports: the CLI eight times, the in-process runner once. A ``dbt parse`` before
them (not timed) leaves the same partial-parse state for both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness import ChildRun, Results, log, run_child

PIPELINE = "travel_bookings"


def _spec_settings(home: Path):
    os.environ["HEADWATER_HOME"] = str(home)
    from headwater.settings import Settings
    from headwater.spec import load_spec

    return load_spec(PIPELINE), Settings.from_env()


def cli_args(home: Path, step_args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The dbt command line and environment Headwater's transform step uses, as a CLI call."""
    from dag_scale import clean_env

    from headwater.transform import dbt_environment, dbt_location_args, install_dbt_packages

    spec, settings = _spec_settings(home)
    install_dbt_packages(spec, settings)
    cmd = [str(Path(sys.executable).parent / "dbt"), *step_args, *dbt_location_args(spec, settings)]
    return cmd, {**clean_env(home), **dbt_environment(spec, settings)}


def child_inprocess(home: str, out: str, only: list[str]) -> int:
    """Child side: every step through transform.run_step in this one process."""
    t0 = time.perf_counter()
    spec, settings = _spec_settings(Path(home))
    from headwater.transform import run_step

    steps = {}
    for step in [s for s in spec.dbt_steps if not only or s in only]:
        s0 = time.perf_counter()
        run_step(spec, step, settings, run_id="bench_dbt_inprocess")
        steps[step] = time.perf_counter() - s0
    Path(out).write_text(json.dumps({"steps": steps, "after_imports": time.perf_counter() - t0}))
    return 0


def run_family(opts: argparse.Namespace, results: Results, info: dict[str, Any], home: Path) -> None:
    from headwater.transform import STEP_COMMANDS

    spec, _ = _spec_settings(home)
    steps = [s for s in spec.dbt_steps if not opts.dbt_steps or s in opts.dbt_steps]
    logfile = home.parent / "dbt_overhead.log"
    log(f"dbt: {len(steps)} steps in-process vs one CLI process per step, on {home} (log {logfile})")
    cmd, env = cli_args(home, ["parse"])
    with logfile.open("ab") as out:
        run_child(cmd, env=env, stdout=out, what="dbt parse")

        res = home / "dbt_inprocess.json"
        inproc = run_child(
            [sys.executable, __file__, "--child", str(home), "--out", str(res), "--steps", ",".join(steps)],
            res,
            env=clean_child_env(home),
            stdout=out,
            what="dbt in-process",
        )
        inproc.result = {"seconds": inproc.wall, **inproc.result}

        per_step: dict[str, float] = {}
        cli_runs: list[ChildRun] = []
        for step in steps:
            cmd, env = cli_args(home, STEP_COMMANDS[step])
            r = run_child(cmd, env=env, stdout=out, what=f"dbt CLI {step}")
            per_step[step] = r.wall
            cli_runs.append(r)
    wall = sum(r.wall for r in cli_runs)
    cli = ChildRun(
        {"seconds": wall, "steps": per_step},
        wall,
        max(r.peak_rss_mb for r in cli_runs),
        sum(r.cpu_seconds for r in cli_runs),
        cli_runs[-1].loadavg,
    )

    def steps_note(r: dict[str, Any]) -> str:
        return "; ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())

    results.add(
        "dbt_inprocess",
        f"dbt {len(steps)} step(s) in-process (one process, transform.run_step)",
        [inproc],
        lambda r: 0,
        note_of=lambda r: "per step s: " + steps_note(r),
        family="dbt",
        x_limit=False,
    )
    results.add(
        "dbt_cli",
        f"dbt {len(steps)} step(s) as {len(steps)} CLI process(es)",
        [cli],
        lambda r: 0,
        note_of=lambda r: "per step s: " + steps_note(r),
        family="dbt",
        x_limit=False,
    )


def clean_child_env(home: Path) -> dict[str, str]:
    from dag_scale import clean_env

    return clean_env(home)


def summary(results: Results) -> list[str]:
    a, b = results.get("dbt_inprocess"), results.get("dbt_cli")
    if not (a and b):
        return []
    return [
        f"dbt step overhead: one CLI process per step takes {b.seconds / a.seconds:.2f}x the in-process "
        f"runner ({b.seconds:.1f} s / {a.seconds:.1f} s, {b.seconds - a.seconds:.1f} s more)"
    ]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="child side of the dbt family (started by run.py)")
    ap.add_argument("--child", required=True, metavar="HEADWATER_HOME")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", default="")
    a = ap.parse_args()
    sys.exit(child_inprocess(a.child, a.out, [s for s in a.steps.split(",") if s]))
