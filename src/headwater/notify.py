"""Slack alerts on task failure, through Airflow's Slack provider.

The webhook comes from the Airflow connection ``headwater_slack`` (type slackwebhook, the
webhook URL as its password) or from ``HEADWATER_SLACK_WEBHOOK_URL``; with neither, the alert
is only logged. Messages carry identifiers and the error's first line, never row contents,
and every known secret is masked out of them before sending.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

log = logging.getLogger(__name__)

CONN_ID = "headwater_slack"
WEBHOOK_ENV = "HEADWATER_SLACK_WEBHOOK_URL"
_SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN|WEBHOOK|_KEY)$")


def known_secrets() -> list[str]:
    """Values that must never appear in a message: secret-looking env vars, URL passwords."""
    from headwater.urls import url_password

    secrets = []
    for name, value in os.environ.items():
        if not value or len(value) < 4:
            continue
        if _SECRET_ENV.search(name):
            secrets.append(value)
        elif "://" in value:
            pw = url_password(value)
            if pw and len(pw) >= 4:
                secrets.append(pw)
    return sorted(set(secrets), key=len, reverse=True)


def redact(text: str) -> str:
    from headwater.urls import mask_url

    text = mask_url(text)
    for secret in known_secrets():
        text = text.replace(secret, "***")
    return text


def first_line(error: BaseException | None) -> str:
    if error is None:
        return "(no exception recorded)"
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:500]


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    """The Slack payload (text + blocks) for a failed task, built from Airflow's context."""
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    run_id = getattr(dag_run, "run_id", None) or getattr(ti, "run_id", "?")
    when = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    log_url = getattr(ti, "log_url", None) or ""
    error = redact(first_line(context.get("exception")))
    attempt = getattr(ti, "try_number", "?")
    text = f":red_circle: Headwater task failed: {dag_id}.{task_id} (run {run_id})"
    fields = [
        f"*Pipeline*\n{dag_id}",
        f"*Task*\n{task_id} (try {attempt})",
        f"*Run*\n{run_id}",
        f"*Logical date*\n{when}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n```{error}```"}},
    ]
    if log_url:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{log_url}|Task log>"}})
    return {"text": redact(text), "blocks": json.loads(redact(json.dumps(blocks)))}


def _ensure_connection_from_env() -> bool:
    """Expose HEADWATER_SLACK_WEBHOOK_URL as the Airflow connection, if no connection exists."""
    conn_env = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    if os.environ.get(conn_env):
        return True
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return False
    os.environ[conn_env] = json.dumps({"conn_type": "slackwebhook", "password": url})
    return True


def task_failed(context: dict[str, Any]) -> None:
    """Airflow on_failure_callback: post to Slack, or log when no webhook is configured."""
    payload = failure_message(context)
    configured = _ensure_connection_from_env()
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        hook = SlackWebhookHook(slack_webhook_conn_id=CONN_ID)
        hook.send(text=payload["text"], blocks=payload["blocks"])
        log.info("Slack alert sent for %s", payload["text"])
    except Exception as e:  # an alert must never mask the task's own failure
        if configured:
            log.error("Slack alert could not be sent (%s); alert was: %s", redact(str(e)), payload["text"])
        else:
            log.warning(
                "no Slack webhook configured (%s or connection %s); alert: %s",
                WEBHOOK_ENV,
                CONN_ID,
                payload["text"],
            )
