"""Slack delivery through Airflow's Slack provider, and what a failed task leaves behind.

The webhook comes from the Airflow connection ``headwater_slack`` (type slackwebhook, the
webhook URL as its password) or from ``HEADWATER_SLACK_WEBHOOK_URL``; with neither, the alert
is only logged. Messages carry identifiers, counts and an error's first line, never row
contents, and every known secret is masked out of them before sending.

Alerts are per DAG run, not per task: a failing task only records what went wrong (its
``on_failure_callback`` pushes an XCom); the run's last task (``report_run``, see
:mod:`headwater.monitoring.run_alerts`) gathers those into one message.
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
FAILURE_XCOM_KEY = "headwater_failure"
_TRACEBACK_NOISE = re.compile(r"^(Traceback \(most recent call last\)|File \"|\^+$|During handling)")


def known_secrets() -> list[str]:
    """Values that must never appear in a message: secret-looking env vars, URL passwords."""
    from headwater.settings import Settings

    return Settings.secret_values()


def redact(text: str) -> str:
    from headwater.urls import mask_url

    text = mask_url(text)
    for secret in known_secrets():
        text = text.replace(secret, "***")
    return text


def first_line(error: BaseException | None) -> str:
    """``Type: first useful line`` of an exception: no traceback, at most 500 characters."""
    if error is None:
        return "(no exception recorded)"
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not _TRACEBACK_NOISE.match(ln)]
    return f"{type(error).__name__}: {(useful or lines or [''])[0]}"[:500]


def task_failed(context: dict[str, Any]) -> None:
    """Airflow task ``on_failure_callback``: record the failure for the run's report task.

    Posts nothing: the one message per run is sent by ``report_run``. What is recorded is
    identifiers and the error's first line (redacted), never data.
    """
    ti = context.get("task_instance") or context.get("ti")
    if ti is None:
        return
    map_index = getattr(ti, "map_index", -1)
    label = getattr(ti, "rendered_map_index", None) or context.get("table_label")
    record = {
        "task_id": getattr(ti, "task_id", "?"),
        "map_index": map_index if isinstance(map_index, int) else -1,
        "label": str(label) if label else None,
        "try_number": getattr(ti, "try_number", None),
        "error": redact(first_line(context.get("exception"))),
        "log_url": _safe_log_url(ti),
    }
    try:
        ti.xcom_push(key=FAILURE_XCOM_KEY, value=record)
    except Exception as e:  # recording must never mask the task's own failure
        log.warning("could not record the failure of %s for the run report: %s", record["task_id"], e)
    log.info("failure recorded for the run report: %s", record["error"])


def _safe_log_url(ti: Any) -> str | None:
    try:
        return str(ti.log_url) if getattr(ti, "log_url", None) else None
    except Exception:  # log_url reads configuration; a missing base URL must not matter here
        return None


_from_env: dict[str, str] = {}
"""The connection values this process derived from HEADWATER_SLACK_WEBHOOK_URL."""


def _ensure_connection_from_env() -> bool:
    """Expose HEADWATER_SLACK_WEBHOOK_URL as the Airflow connection, if no connection exists."""
    conn_env = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    from headwater.settings import Settings

    url = Settings.from_env().slack_webhook_url
    current = os.environ.get(conn_env)  # Airflow's own connection variable, which this manages
    derived = json.dumps({"conn_type": "slackwebhook", "password": url}) if url else None
    if current and current != _from_env.get(conn_env):
        return True  # set by the user: it wins
    if not derived:
        if current:  # ours, from a variable that is gone now
            del os.environ[conn_env]
        return False
    os.environ[conn_env] = _from_env[conn_env] = derived  # follows the variable if it changes
    return True


def send(payload: dict[str, Any]) -> bool:
    """Post ``{"text", "blocks"}`` through the Slack provider; True when it was delivered.

    The payload is redacted once more here, so no caller can leak a secret by mistake. With
    no webhook configured the message is logged instead (its text line only).
    """
    text = redact(payload["text"])
    blocks = json.loads(redact(json.dumps(payload.get("blocks") or [])))
    configured = _ensure_connection_from_env()
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        SlackWebhookHook(slack_webhook_conn_id=CONN_ID).send(text=text, blocks=blocks)
    except Exception as e:  # an alert must never mask the run's own outcome
        if configured:
            log.error("Slack alert could not be sent (%s); alert was: %s", redact(str(e)), text)
        else:
            log.warning(
                "no Slack webhook configured (%s or connection %s); alert: %s", WEBHOOK_ENV, CONN_ID, text
            )
        return False
    log.info("Slack alert sent: %s", text)
    return True
