"""Long-running processes we start, and every process they start, stopped together.

Stopping a process group is not enough: a child may start its own session (setsid) or
outlive its parent and be re-parented to init, and then no signal to the group reaches it.
So the tree is watched while it runs: every descendant seen is remembered (pid and start
time, so a recycled pid is never mistaken for ours), and stopping signals each of them.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class ProcessTree:
    """Named top-level processes and all their descendants, ever seen."""

    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    seen: dict[tuple[int, float], psutil.Process] = field(default_factory=dict)

    def start(self, name: str, command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(command), env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.procs[name] = proc
        self.refresh()
        return proc

    def refresh(self) -> None:
        """Remember every live descendant of every process we started (and of those seen)."""
        roots = [p.pid for p in self.procs.values() if p.poll() is None]
        roots += [p.pid for p in list(self.seen.values()) if _alive(p)]
        for pid in roots:
            try:
                proc = psutil.Process(pid)
                for p in [proc, *proc.children(recursive=True)]:
                    self.seen.setdefault((p.pid, p.create_time()), p)
            except psutil.Error:
                continue

    def exited(self) -> dict[str, int]:
        """Top-level processes that are no longer running, with their exit codes."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def alive(self) -> list[psutil.Process]:
        return [p for p in self.seen.values() if _alive(p)]

    def pids(self) -> set[int]:
        return {pid for pid, _ in self.seen}

    def stop(self, grace: float = 30.0) -> list[int]:
        """Stop every process of the tree; returns the pids that had to be SIGKILLed.

        The processes we started get SIGTERM first (they stop their own children); any
        descendant still running after a third of ``grace`` (an orphan in its own session
        gets no signal from its parent) gets SIGTERM itself, and what is left at ``grace``
        is killed. Only processes we started, or saw descend from them, are signalled.
        """
        self.refresh()
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal(psutil.Process(proc.pid), signal.SIGTERM)
        started = time.monotonic()
        nudged = False
        while time.monotonic() - started < grace:
            self.refresh()  # children started while shutting down are ours too
            for proc in self.procs.values():
                proc.poll()  # reap
            left = self.alive()
            if not left:
                return []
            if not nudged and time.monotonic() - started > grace / 3:
                for p in left:
                    _signal(p, signal.SIGTERM)
                nudged = True
            time.sleep(0.2)
        left = self.alive()
        for p in left:
            _signal(p, signal.SIGKILL)
        psutil.wait_procs(left, timeout=10)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return [p.pid for p in left]


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(p: psutil.Process, sig: int) -> None:
    try:
        if p.is_running():  # is_running compares the start time: never a recycled pid
            p.send_signal(sig)
    except psutil.Error:
        pass


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP/UDP socket in LISTEN state (TCP) or bound (UDP) by
    ``pids``, read from the kernel's socket tables: the check behind "loopback only"."""
    found = []
    for c in psutil.net_connections("inet"):
        if c.pid not in pids or not c.laddr:
            continue
        if c.type == socket.SOCK_STREAM and c.status != psutil.CONN_LISTEN:
            continue
        if c.type != socket.SOCK_STREAM and c.raddr:
            continue  # a connected UDP socket talks to one peer; it does not listen
        found.append((c.pid, c.laddr.ip, c.laddr.port))
    return found


def is_loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


__all__ = ["ProcessTree", "is_loopback", "listening_sockets"]
