"""The lake on an S3-compatible store: a real S3 API served over HTTP on 127.0.0.1 (moto)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pyarrow import fs as pafs

from headwater import flow
from headwater.lake import Lake
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from tests.integration.test_extract_load import assert_warehouse_equals_source

SPEC = load_spec("travel_bookings")
AS_OF = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return s3_endpoint


@pytest.mark.parametrize("warehouse", ["duckdb", "postgres"])
def test_extract_and_load_through_an_s3_lake(tmp_path, s3_env, warehouse, request):
    warehouse_url = (
        f"duckdb:///{tmp_path / 'w.duckdb'}"
        if warehouse == "duckdb"
        else request.getfixturevalue("pg_database")
    )
    source = f"sqlite:///{tmp_path / 'src.sqlite'}"
    generator.generate(source, scale=0.02, seed=9, as_of=AS_OF)
    bucket = f"hw-lake-{warehouse}"
    settings = Settings(
        home=tmp_path,
        warehouse_url=warehouse_url,
        lake_url=f"s3://{bucket}/landing",
        source_url=source,
        dags_folder=tmp_path,
    )

    first = flow.run_el(SPEC, settings, "run_1")  # the plan step creates the bucket
    assert all(first[t.name] for t in SPEC.tables)
    assert_warehouse_equals_source(settings, source)

    # The objects really are in the bucket, at the run-keyed path, manifest included.
    s3 = Lake(settings.lake_url).fs
    listed = s3.get_file_info(pafs.FileSelector(f"{bucket}/landing/travel_bookings/booking", recursive=True))
    names = sorted(i.path.removeprefix(f"{bucket}/landing/travel_bookings/booking/") for i in listed)
    assert "batch=run_1/_manifest.json" in names
    assert any(n.startswith("batch=run_1/part-") and n.endswith(".parquet") for n in names)

    generator.advance(source, seed=9, as_of=AS_OF + timedelta(hours=3))
    second = flow.run_el(SPEC, settings, "run_2")
    assert second["booking"] is not None
    assert_warehouse_equals_source(settings, source)
    assert flow.run_el(SPEC, settings, "run_3") == {t.name: None for t in SPEC.tables}
    assert Lake(settings.lake_url).read_manifest("travel_bookings", "booking", "run_3") is None


def test_s3_credentials_stay_out_of_manifests_and_errors(tmp_path, s3_env):
    source = f"sqlite:///{tmp_path / 'src.sqlite'}"
    generator.generate(source, scale=0.01, seed=2, as_of=AS_OF)
    settings = Settings(
        home=tmp_path,
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        lake_url="s3://hw-lake-secrets/x",
        source_url=source,
        dags_folder=tmp_path,
    )
    flow.run_el(SPEC, settings, "run_1")
    lake = Lake(settings.lake_url)
    for m in lake.batches("travel_bookings", "booking"):
        assert "testing-secret" not in m.to_json()
