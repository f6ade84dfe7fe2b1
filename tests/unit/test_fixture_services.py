"""A pipeline's stand-in services around a run (``headwater.orchestration.fixtures``): its
generator's ``serve()`` started, the source variables pointing at it for the block only, and a
source the user pointed elsewhere left alone."""

from __future__ import annotations

import os

import httpx

from headwater.orchestration.fixtures import fixture_services
from headwater.settings import Settings
from headwater.spec import load_spec

URL_VAR, TOKEN_VAR = "HEADWATER_SOURCE_PACBIKES_CURRENCY_URL", "HEADWATER_SOURCE_CURRENCY_TOKEN"


def test_the_stand_in_serves_for_the_block_and_the_users_own_url_wins(hw_home, monkeypatch):
    from headwater.pipelines.pacbikes import generator

    spec = load_spec("pacbikes")
    settings = Settings.from_env()
    generator.generate(settings.source_url_for(spec), scale=0.02, seed=3)
    monkeypatch.delenv(URL_VAR, raising=False)
    monkeypatch.delenv(TOKEN_VAR, raising=False)
    with fixture_services(spec, settings) as served:
        url, token = served.source_url_for(spec, "currency"), served.source_token("currency")
        assert url.startswith("http://127.0.0.1:") and os.environ[URL_VAR] == url and token
        page = httpx.get(f"{url}currency", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200 and page.json()["data"]
    assert URL_VAR not in os.environ and TOKEN_VAR not in os.environ
    with httpx.Client() as client:
        try:
            client.get(f"{url}currency", timeout=2)
            raise AssertionError("the stand-in still answers after the block")
        except httpx.TransportError:
            pass

    monkeypatch.setenv(URL_VAR, "https://currency.example.com/v1/")
    with fixture_services(spec, Settings.from_env()) as served:
        assert served.source_url_for(spec, "currency") == "https://currency.example.com/v1/"
        assert TOKEN_VAR not in os.environ
