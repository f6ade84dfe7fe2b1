"""Sources a pipeline's demo serves itself, started for the length of a run.

A pipeline whose source is a service (an HTTP API) can bring a stand-in for the demo and the
tests: an optional ``serve(url, *, schema=None, **options)`` context manager in its
``generator.py``, given the generated main source's URL, that yields its served sources by
name, each with a ``url`` and an optional bearer ``token``. ``headwater run`` and
``headwater demo`` enter it around the pipeline's DAG runs and point those sources at it
through the usual variables (``HEADWATER_SOURCE_<PIPELINE>_<SOURCE>_URL`` and
``HEADWATER_SOURCE_<SOURCE>_TOKEN``), only for the sources the user has not pointed elsewhere:
in production the variables name the real service and nothing is started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from headwater import discovery
from headwater.settings import Settings, source_token_variable, source_url_variable
from headwater.spec import PipelineSpec
from headwater.transform import environment


@contextmanager
def fixture_services(spec: PipelineSpec, settings: Settings, **options: Any) -> Iterator[Settings]:
    """Run the pipeline's stand-in services (if any) for the block; yields the settings that
    point at them. ``options`` go to ``serve`` (e.g. the API fixture's failure rate)."""
    generator = discovery.pipeline_module(spec, "generator")
    serve = getattr(generator, "serve", None)
    if serve is None:
        yield settings
        return
    kwargs = {"schema": spec.source.schema} if spec.source.schema else {}
    with serve(settings.source_url_for(spec), **kwargs, **options) as services:
        env: dict[str, str] = {}
        for name, service in services.items():
            if f"{spec.name}_{name}".upper() in settings.source_urls:
                continue  # the user pointed this source elsewhere: theirs wins
            env[source_url_variable(spec.name, name)] = service.url
            if service.token:
                env[source_token_variable(name)] = service.token
        with environment(env):
            yield Settings.from_env()
