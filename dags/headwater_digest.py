"""Airflow DAG: the optional daily Slack digest of every Headwater pipeline (created paused).

Unpause `headwater_digest` to opt in; see src/headwater/orchestration/digest_dag.py.
"""

from headwater.orchestration.digest_dag import build_digest_dag

dag = build_digest_dag()
