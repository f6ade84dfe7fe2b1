"""What every benchmark family shares: one measurement per child process, and the report.

Standard library only: the alternatives' venv imports nothing from here, but every family
of the runner does.

A measurement runs in a **fresh child process**. The parent reads that child's rusage with
``os.wait4``, which on Linux covers the child and every descendant it waited for: CPU time is
summed over the tree and ``ru_maxrss`` is the peak RSS of the *largest single process* in it
(for a one-process child, simply its peak RSS). ``RUSAGE_CHILDREN`` would not do: it is the
maximum over every child the parent ever had.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STARTED = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - STARTED:7.1f}s] {msg}", file=sys.stderr, flush=True)


def loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class ChildRun:
    result: dict[str, Any]
    """What the child wrote to its output file (``seconds`` at least), or {} for commands."""
    wall: float
    """Wall time seen by the parent, process start to exit (imports included)."""
    peak_rss_mb: float
    cpu_seconds: float
    loadavg: float | None

    @property
    def seconds(self) -> float:
        """The child's own timing of the measured work when it gave one, else the parent's."""
        return float(self.result.get("seconds", self.wall))


def run_child(
    cmd: list[str],
    out: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Any = None,
    what: str = "",
) -> ChildRun:
    """Run ``cmd`` to completion; its JSON result (if ``out``), wall time and rusage.

    Raises RuntimeError when the child fails: a benchmark that did not do its work is no
    measurement.
    """
    if out is not None:
        out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=stdout if stdout is not None else sys.stderr.fileno(),
        stderr=subprocess.STDOUT if stdout is not None else None,
        stdin=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{what or cmd[0]} failed with exit code {proc.returncode}: {' '.join(cmd)[:300]}")
    result = json.loads(out.read_text()) if out is not None else {}
    return ChildRun(result, wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime, loadavg())


@dataclass
class Measurement:
    key: str
    label: str
    family: str
    seconds: float
    rows: int
    peak_rss_mb: float
    cpu_seconds: float
    """User + system CPU of the measuring process tree (never the Postgres server's)."""
    bytes: float | None = None
    """Bytes the measurement moved, in COPY-binary bytes of the source (for MB/s)."""
    note: str = ""
    x_limit: bool = True
    """Whether a ratio to the COPY limit means anything for this line."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds > 0 else None

    @property
    def mb_per_s(self) -> float | None:
        return self.bytes / 1e6 / self.seconds if self.bytes and self.seconds > 0 else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s, "mb_per_s": self.mb_per_s}


class Results:
    """Every measurement of one run, in the order taken."""

    def __init__(self) -> None:
        self.items: dict[str, Measurement] = {}

    def get(self, key: str) -> Measurement | None:
        return self.items.get(key)

    def add(
        self,
        key: str,
        label: str,
        runs: list[ChildRun],
        rows_of,
        bytes_of=lambda r: None,
        note_of=lambda r: "",
        *,
        family: str,
        x_limit: bool = True,
    ) -> Measurement:
        """Record the fastest of ``runs``; peak RSS is the highest of all of them."""
        best = min(runs, key=lambda r: r.seconds)
        walls = [r.seconds for r in runs]
        note = note_of(best.result)
        if len(runs) > 1:
            note = (note + "; " if note else "") + "best of " + "/".join(f"{w:.2f}" for w in walls)
        m = Measurement(
            key,
            label,
            family,
            best.seconds,
            rows_of(best.result),
            max(r.peak_rss_mb for r in runs),
            best.cpu_seconds,
            bytes_of(best.result),
            note,
            x_limit,
            extra={
                "runs": walls,
                "loadavg": [r.loadavg for r in runs],
                "best": {k: v for k, v in best.result.items() if k != "batch"},
            },
        )
        self.items[key] = m
        rate = f"{m.rows_per_s:,.0f} rows/s, " if m.rows_per_s else ""
        log(
            f"  {label}: {m.seconds:.3f} s ({rate}peak RSS {m.peak_rss_mb:.0f} MB, "
            f"CPU {m.cpu_seconds:.1f} s) {note}"
        )
        return m


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - machine facts are best effort
        return ""


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": cpu,
        "nproc": sh(["nproc"]),
        "free_m": sh(["free", "-m"]),
        "loadavg_start": Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "",
        "python": platform.python_version(),
        "git_commit": sh(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
        "src_changes": sh(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"]),
        "command": " ".join([sys.executable, *sys.argv]),
    }


def pip_freeze(python: str, names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``names`` in the environment of ``python`` (case-insensitive)."""
    wanted = {n.lower().replace("_", "-") for n in names}
    out = {}
    for line in sh([python, "-m", "pip", "freeze", "--all"]).splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            if name.lower().replace("_", "-") in wanted:
                out[name] = version
    return out


# ------------------------------------------------------------------------------------------
# Targets and the printed table
# ------------------------------------------------------------------------------------------


def target(name: str, value: float | None, goal: float, kind: str, detail: str) -> dict[str, Any] | None:
    """One target with its measured value. kind: 'max_x' (value <= goal, a ratio), 'min_x'
    (value >= goal, a speed-up), 'share' (value < goal), 'mb' (value < goal MB), 's' (value < goal s).
    """
    if value is None:
        return None
    if kind == "max_x":
        met, shown, lim = value <= goal, f"{value:.2f}x", f"<= {goal:.2f}x"
        margin = f"{abs(goal - value) / goal:.0%} {'under' if met else 'over'} the target"
    elif kind == "min_x":
        met, shown, lim = value >= goal, f"{value:.2f}x", f">= {goal:.1f}x"
        margin = (
            f"{value / goal - 1:.0%} beyond the target"
            if met
            else f"{1 - value / goal:.0%} short of the target"
        )
    elif kind == "share":
        met, shown, lim = value < goal, f"{value:.2%}", f"< {goal:.0%}"
        margin = f"{abs(goal - value) / goal:.0%} {'under' if met else 'over'} the target"
    elif kind == "s":
        met, shown, lim = value < goal, f"{value:.2f} s", f"< {goal:.0f} s"
        margin = f"{abs(goal - value):.1f} s {'under' if met else 'over'}"
    else:
        met, shown, lim = value < goal, f"{value:.0f} MB", f"< {goal:.0f} MB"
        margin = f"{abs(goal - value):.0f} MB {'under' if met else 'over'}"
    return {
        "target": name,
        "value": value,
        "shown": shown,
        "limit": lim,
        "met": met,
        "margin": margin,
        "detail": detail,
    }


def render(info: dict[str, Any], results: Results, targets: list[dict[str, Any]]) -> str:
    lim = results.get("limit")
    lines = [f"Headwater benchmark, {info['date']}"]
    src = info.get("source")
    if src:
        lines.append(
            f"source {src['table']}: {src['rows']:,} rows, heap {src['heap_bytes'] / 1e6:.0f} MB, "
            f"total with indexes {src['total_bytes'] / 1e6:.0f} MB, "
            f"binary COPY stream {src.get('copy_binary_bytes', 0) / 1e6:.0f} MB"
        )
    v = info.get("versions", {})
    lines.append(
        f"python {info['python']}; {', '.join(f'{k} {x}' for k, x in v.items())}; {info['nproc']} cores; "
        f"baseline process RSS {info.get('baseline_rss_mb', 0):.0f} MB; headwater "
        f"{info.get('git_commit', '?')}{' (uncommitted changes in src/)' if info.get('src_changes') else ''}"
    )
    alt = info.get("alternatives_versions")
    if alt:
        lines.append("alternatives venv: " + ", ".join(f"{k} {x}" for k, x in alt.items()))
    lines.append("")
    header = (
        "| # | measurement | wall s | rows | rows/s | MB/s | peak RSS MB | client CPU s | x limit | notes |"
    )
    lines += [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for i, m in enumerate(results.items.values(), 1):
        rps = f"{m.rows_per_s:,.0f}" if m.rows_per_s else "-"
        mbs = f"{m.mb_per_s:,.0f}" if m.mb_per_s else "-"
        x = f"{m.seconds / lim.seconds:.2f}" if lim and m.x_limit else "-"
        lines.append(
            f"| {i} | {m.label} | {m.seconds:.3f} | {m.rows:,} | {rps} | {mbs} | "
            f"{m.peak_rss_mb:.0f} | {m.cpu_seconds:.1f} | {x} | {m.note} |"
        )
    lines += ["", "| target | measured | goal | result |", "|---|---:|---:|---|"]
    for t in targets:
        lines.append(
            f"| {t['target']} | {t['shown']} ({t['detail']}) | {t['limit']} | "
            f"{'MET' if t['met'] else 'NOT MET'}, {t['margin']} |"
        )
    cons = info.get("consistency", {})
    checks = {k: v["matches"] for k, v in cons.items() if isinstance(v, dict)}
    if checks:
        lines += [
            "",
            "consistency after the 5% upsert (raw table = source in count, sum(amount), "
            "max(updated_at)): " + ", ".join(f"{k} {'ok' if ok else 'MISMATCH'}" for k, ok in checks.items()),
        ]
    if info.get("row_checks"):
        lines.append("row counts at the destination = source: " + ", ".join(info["row_checks"]))
    lines.append(
        f"load average (1 min) at start / end: {info.get('loadavg_start', '?').split(' ')[0]}"
        f" / {info.get('loadavg_end', '?').split(' ')[0]}; total run {info.get('total_seconds')} s"
    )
    return "\n".join(lines)
