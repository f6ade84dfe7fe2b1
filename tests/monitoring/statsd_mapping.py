"""deploy/statsd/mapping.yml applied to StatsD lines the way statsd_exporter applies it, and a
loopback UDP receiver for Airflow's StatsD packets (tests send Airflow's real output through it).

statsd_exporter's rules, as far as this mapping uses them: mappings are tried in order and the
first that matches wins; a glob ``match`` matches the whole name, ``*`` standing for one
dot-free part that ``$1``, ``$2``... name in labels; ``match_type: regex`` is a full regular
expression match; ``action: drop`` discards the line. Timers (``ms``) become histograms
(``<name>_bucket``/``_sum``/``_count``, the ``defaults.observer_type`` here), counters and gauges
keep their name.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAPPING = Path(__file__).parents[2] / "deploy" / "statsd" / "mapping.yml"


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    name: str
    labels: dict[str, str]
    drop: bool


@dataclass(frozen=True)
class Sample:
    name: str
    """The Prometheus metric name(s) statsd_exporter would export the line under (base name)."""
    labels: tuple[tuple[str, str], ...]
    kind: str


def rules(path: Path = MAPPING) -> list[Rule]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    out = []
    for m in config["mappings"]:
        if m.get("match_type") == "regex":
            pattern = re.compile(m["match"])
        else:
            parts = [r"([^.]+)" if part == "*" else re.escape(part) for part in m["match"].split(".")]
            pattern = re.compile(r"\.".join(parts))
        out.append(Rule(pattern, m["name"], dict(m.get("labels") or {}), m.get("action") == "drop"))
    return out


def apply(line: str, mapping: list[Rule]) -> Sample | None:
    """The sample one StatsD line becomes, or None when the mapping drops it."""
    name, _, rest = line.partition(":")
    kind = rest.split("|")[1] if "|" in rest else ""
    for rule in mapping:
        found = rule.pattern.fullmatch(name)
        if found is None:
            continue
        if rule.drop:
            return None
        labels = tuple(sorted((k, found.expand(v.replace("$", "\\"))) for k, v in rule.labels.items()))
        return Sample(rule.name, labels, kind)
    return Sample(re.sub(r"[^a-zA-Z0-9_]", "_", name), (), kind)  # unmapped: kept, escaped


def exported(sample: Sample) -> set[str]:
    """The metric names Prometheus scrapes for a sample."""
    if sample.kind in ("ms", "h", "d"):
        return {f"{sample.name}_bucket", f"{sample.name}_sum", f"{sample.name}_count"}
    return {sample.name}


class StatsdReceiver:
    """Collects StatsD lines sent to 127.0.0.1:<port> (a free port) until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.lines.extend(data.decode(errors="replace").splitlines())

    def __enter__(self) -> StatsdReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def environ(self) -> dict[str, str]:
        """Airflow's settings that send its metrics here."""
        return {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }
