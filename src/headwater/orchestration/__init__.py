"""Orchestration: Airflow DAGs built from pipeline specs, and the local Airflow environment."""

from headwater.orchestration.dag import build_dag, build_dags

__all__ = ["build_dag", "build_dags"]
