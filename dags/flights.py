"""Airflow DAG for the flights pipeline (seed 003), built from its spec.

The spec is src/headwater/pipelines/flights/pipeline.yaml; this file only wires it.
"""

from headwater.orchestration import build_dag

dag = build_dag("flights")
