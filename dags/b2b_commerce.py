"""Airflow DAGs for the b2b_commerce pipeline (seed 001), built from its spec.

The spec is src/headwater/pipelines/b2b_commerce/pipeline.yaml: an ingest DAG (app database,
leads, logs in parallel) whose Asset schedules the dbt DAG. This file only wires it.
"""

from headwater.orchestration import build_dags

globals().update(build_dags("b2b_commerce"))
