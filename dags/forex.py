"""Airflow DAG for the forex pipeline (seed 004), built from its spec.

The spec is src/headwater/pipelines/forex/pipeline.yaml; this file only wires it.
"""

from headwater.orchestration import build_dag

dag = build_dag("forex")
