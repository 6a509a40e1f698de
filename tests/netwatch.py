"""Which TCP ports a process and the processes it started listen on (psutil, as ``ss -ltnp`` shows them).

Used by the tests and ``benchmarks/listeners.py`` to check that scale-out (torchrun's rendezvous, a local
Ray instance) listens on loopback only.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import NamedTuple

import psutil


class Listener(NamedTuple):
    address: str
    port: int
    process: str

    @property
    def loopback(self) -> bool:
        # an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is loopback too
        return ipaddress.ip_address(self.address.removeprefix("::ffff:")).is_loopback


def listeners(root_pid: int) -> set[Listener]:
    """The TCP sockets listening in ``root_pid`` and its descendants, now."""
    try:
        root = psutil.Process(root_pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return set()
    names = {}
    for proc in tree:
        try:
            names[proc.pid] = proc.name()
        except psutil.Error:
            pass
    return {
        Listener(c.laddr.ip, c.laddr.port, names[c.pid])
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in names
    }


def beyond_loopback(found: set[Listener]) -> list[Listener]:
    return sorted(entry for entry in found if not entry.loopback)


class ListenerSampler:
    """Samples :func:`listeners` of ``root_pid`` every ``interval_s`` in a thread until stopped (a context manager)."""

    def __init__(self, root_pid: int, interval_s: float = 0.2):
        self.root_pid, self.interval_s = root_pid, interval_s
        self.seen: set[Listener] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen |= listeners(self.root_pid)
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "ListenerSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
