"""The cluster's configuration, without starting it: URLs, secrets, processes, environment."""

from __future__ import annotations

import stat

import pytest

from headwater.errors import ConfigError
from headwater.orchestration import cluster
from headwater.settings import Settings


def test_metadata_urls_use_psycopg_3_for_sync_async_and_celery_results(hw_home, monkeypatch):
    assert cluster.sqlalchemy_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert cluster.sqlalchemy_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("HEADWATER_CLUSTER_METADATA_URL", "postgresql://u@h:5/meta")
    config = cluster.ClusterConfig.from_env()
    env = cluster.cluster_environ(Settings.from_env(), config, "id1", None)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg://u@h:5/meta"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == "postgresql+psycopg://u@h:5/meta"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg://u@h:5/meta"
    assert env["HEADWATER_WAREHOUSE_URL"] == "postgresql://u@h:5/headwater_warehouse"


def test_secrets_come_from_the_environment_then_env_file_then_are_generated_once(
    hw_home, monkeypatch, tmp_path
):
    settings = Settings.from_env()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "from-env")
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nAIRFLOW__API_AUTH__JWT_SECRET='from-file'\n")
    first = cluster.cluster_secrets(settings, env_file)
    assert first["AIRFLOW__CORE__FERNET_KEY"] == "from-env"
    assert first["AIRFLOW__API_AUTH__JWT_SECRET"] == "from-file"
    generated = first["AIRFLOW__API__SECRET_KEY"]
    assert len(generated) >= 40
    stored = cluster.cluster_dir(settings) / "secrets.env"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = cluster.cluster_secrets(settings, None)
    assert again["AIRFLOW__API__SECRET_KEY"] == generated  # every process, every restart: the same


def test_processes_listen_on_loopback_only_and_keep_secrets_off_the_command_line(hw_home):
    config = cluster.ClusterConfig.from_env(workers=3, lake_port=9999, flower_port=5555)
    procs = cluster.components(config)
    assert {"api-server", "scheduler", "dag-processor", "triggerer", "lake", "flower"} <= set(procs)
    assert [n for n in procs if n.startswith("worker-")] == ["worker-1", "worker-2", "worker-3"]
    for name in ("worker-1", "scheduler", "triggerer"):
        assert "--skip-serve-logs" in procs[name][0], name
    assert "127.0.0.1" in procs["api-server"][0] and "127.0.0.1" in procs["flower"][0]
    env = cluster.cluster_environ(Settings.from_env(), config, "id", None)
    secrets = [env[k] for k in cluster.SECRET_SETTINGS]
    for command, _extra in procs.values():
        assert not any(s in " ".join(command) for s in secrets)


def test_worker_queues_and_executor_choices(monkeypatch):
    config = cluster.ClusterConfig.from_env(worker_queues=[["headwater_transform"]])
    assert config.queues_of(0) == ["headwater_transform"]
    assert config.queues_of(1) == ["default", cluster.LOAD_QUEUE, cluster.TRANSFORM_QUEUE]
    assert cluster.ClusterConfig.from_env(executor="local").workers == 0
    with pytest.raises(ConfigError, match="celery or local"):
        cluster.ClusterConfig.from_env(executor="kubernetes")
    with pytest.raises(ConfigError, match="at least one worker"):
        cluster.ClusterConfig.from_env(workers=0)


def test_an_empty_or_foreign_queue_spec_is_refused():
    from headwater.errors import SpecError
    from headwater.spec import _parse_queues

    assert _parse_queues({"load": "fast", "transform": "dbt-heavy"}, "p.queues") == {
        "load": "fast",
        "transform": "dbt-heavy",
    }
    with pytest.raises(SpecError, match="unknown field"):
        _parse_queues({"extract": "x"}, "p.queues")
    with pytest.raises(SpecError, match="queue name"):
        _parse_queues({"load": "a b"}, "p.queues")
