"""Where the dashboards point people: the Airflow UI, Airflow's own run states, dbt docs.

Nothing here writes: Airflow's SQLite metadata database is opened ``mode=ro``, dbt's docs are
read from the target folder ``headwater run`` wrote them to.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from headwater.settings import Settings


def airflow_base_url() -> str:
    """The Airflow UI as `headwater ui` serves it (or as AIRFLOW__API__BASE_URL says)."""
    return Settings.from_env().airflow_api_base_url.rstrip("/")


def airflow_dag_url(dag_id: str, run_id: str | None = None) -> str:
    url = f"{airflow_base_url()}/dags/{quote(dag_id, safe='')}"
    return f"{url}/runs/{quote(run_id, safe='')}" if run_id else url


@dataclass(frozen=True)
class DagRun:
    run_id: str
    state: str | None
    start_date: str | None
    end_date: str | None


def _airflow_metadata_db(settings: Settings) -> Path | None:
    url = settings.airflow_metadata_url or f"sqlite:///{settings.airflow_home / 'airflow.db'}"
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def last_dag_runs(settings: Settings, dag_ids: list[str]) -> dict[str, DagRun]:
    """Airflow's newest run of each DAG, when its metadata is a local SQLite file.

    Returns what it can: an unreadable or absent database (a production Airflow on Postgres,
    or no run yet) gives an empty answer, and the pages fall back on the warehouse's ledger.
    """
    db = _airflow_metadata_db(settings)
    if db is None or not db.exists() or not dag_ids:
        return {}
    out: dict[str, DagRun] = {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            for dag_id in dag_ids:
                row = con.execute(
                    "SELECT run_id, state, start_date, end_date FROM dag_run WHERE dag_id = ? "
                    "ORDER BY id DESC LIMIT 1",
                    [dag_id],
                ).fetchone()
                if row:
                    out[dag_id] = DagRun(*(None if v is None else str(v) for v in row))  # type: ignore[arg-type]
        finally:
            con.close()
    except sqlite3.Error:
        return {}
    return out


def pipeline_dag_run(runs: dict[str, DagRun], dag_ids: list[str]) -> tuple[str, DagRun | None]:
    """The DAG (and its newest run) that speaks for a pipeline of one or more DAGs.

    ``dag_ids`` in run order, producers first. A running or failed DAG is what a reader must
    see; otherwise the last DAG, whose run finishes the pipeline's work.
    """
    for state in ("failed", "running", "queued"):
        for dag_id in dag_ids:
            run = runs.get(dag_id)
            if run is not None and run.state == state:
                return dag_id, run
    return dag_ids[-1], runs.get(dag_ids[-1])


def dbt_target_dir(settings: Settings, pipeline: str) -> Path:
    """Where `headwater run` writes the pipeline's dbt artifacts, docs included."""
    from headwater.dashboard.marts import manifest_path

    return manifest_path(pipeline, settings.home).parent


def dbt_docs_html(target: Path) -> str | None:
    """dbt's docs site as one self-contained page (what ``dbt docs generate --static`` makes).

    ``index.html`` normally fetches manifest.json and catalog.json beside it; inlining them
    lets the dashboard show the docs without serving files. None when docs were not generated.
    """
    index, manifest, catalog = (target / n for n in ("index.html", "manifest.json", "catalog.json"))
    if not (index.exists() and manifest.exists() and catalog.exists()):
        return None
    html = index.read_text(encoding="utf-8")
    for placeholder, path in (
        ('"MANIFEST.JSON INLINE DATA"', manifest),
        ('"CATALOG.JSON INLINE DATA"', catalog),
    ):
        data = path.read_text(encoding="utf-8")
        json.loads(data)  # only well-formed JSON goes into the page's script
        html = html.replace(placeholder, data.replace("</", "<\\/"))
    return html
