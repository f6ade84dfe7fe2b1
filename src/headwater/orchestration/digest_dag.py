"""The optional daily Slack digest as an Airflow DAG (``headwater_digest``).

It is created paused: unpause it to opt in. One task reads every pipeline's run ledger for
the last 24 hours and posts one message (``headwater digest --post`` does the same from
cron). Parsing touches nothing; the schedule comes from ``HEADWATER_DIGEST_SCHEDULE``
(default 07:00 UTC daily).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from headwater.settings import Settings

DIGEST_DAG_ID = "headwater_digest"


def build_digest_dag():
    from airflow.sdk import DAG, task

    with DAG(
        dag_id=DIGEST_DAG_ID,
        description="Daily Slack digest of every Headwater pipeline's runs (unpause to opt in).",
        doc_md=__doc__,
        schedule=Settings.from_env().digest_schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=True,
        tags=["headwater"],
        default_args={"retries": 1},
    ) as dag:

        @task
        def post_digest() -> dict[str, Any]:
            from headwater.monitoring.digest import digest_message, read_digest
            from headwater.notify import send
            from headwater.settings import Settings

            payload = digest_message(read_digest(Settings.from_env().warehouse_url, 24), 24)
            return {"text": payload["text"], "delivered": send(payload)}

        post_digest()
    return dag
