"""Airflow DAG for the travel_bookings pipeline (seed 000), built from its spec.

The spec is src/headwater/pipelines/travel_bookings/pipeline.yaml; this file only wires it.
"""

from headwater.orchestration import build_dag

dag = build_dag("travel_bookings")
