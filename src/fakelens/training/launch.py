"""``fakelens train --nproc-per-node N``: torchrun's one-machine launch, with nothing listening beyond loopback.

``torchrun --standalone`` hosts its rendezvous store, a c10d ``TCPStore`` that the ranks also bootstrap
from, on every interface: ``TCPStore`` binds the wildcard address whatever host it is given. The store
has no authentication and the ranks pass pickles through it and through their process group. This
launcher runs the same elastic agent (``torch.distributed.launcher``: worker processes, their
environment, failure handling) with a one-node rendezvous whose store listens on a socket bound to
127.0.0.1 and handed to ``TCPStore`` (``master_listen_fd``); the ranks are its clients (the agent's store,
as torchrun's ``static`` rendezvous does it), and their gloo and NCCL sockets use the loopback interface.

Several machines still need ``torchrun`` with a rendezvous endpoint the others can reach: see
``docs/network-exposure.md`` for opening it to a cluster safely.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid

import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.elastic.rendezvous import (
    RendezvousHandler,
    RendezvousInfo,
    RendezvousParameters,
    RendezvousStoreInfo,
    rendezvous_handler_registry,
)
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

LOOPBACK = "127.0.0.1"
RENDEZVOUS_BACKEND = "fakelens-loopback"
# gloo and NCCL pick their interface from these (otherwise from the host name, which may resolve to a network address)
INTERFACE_VARIABLES = ("GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME")


class LoopbackRendezvous(RendezvousHandler):
    """This machine alone (node rank 0 of 1): the agent hosts the store on a listening socket bound to loopback."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self._listener = socket.create_server((LOOPBACK, 0))  # kept open for the store's lifetime
        self.port = self._listener.getsockname()[1]
        self._store: dist.Store | None = None

    def get_backend(self) -> str:
        return RENDEZVOUS_BACKEND

    @property
    def use_agent_store(self) -> bool:
        return True  # the ranks connect to this store (MASTER_ADDR:MASTER_PORT) rather than rank 0 hosting another

    def next_rendezvous(self) -> RendezvousInfo:
        if self._store is None:
            self._store = dist.TCPStore(
                LOOPBACK, self.port, world_size=1, is_master=True, multi_tenant=True, master_listen_fd=self._listener.fileno()
            )
        return RendezvousInfo(dist.PrefixStore(self.run_id, self._store), 0, 1, RendezvousStoreInfo(LOOPBACK, self.port))

    def is_closed(self) -> bool:
        return False

    def set_closed(self) -> None:
        pass

    def num_nodes_waiting(self) -> int:
        return 0

    def get_run_id(self) -> str:
        return self.run_id

    def shutdown(self) -> bool:
        return True


def _create_handler(params: RendezvousParameters) -> RendezvousHandler:
    return LoopbackRendezvous(params.run_id)


def loopback_interface() -> str | None:
    """The loopback interface's name (``lo`` on Linux, ``lo0`` on macOS), if this system names one."""
    names = [name for _, name in socket.if_nameindex()]
    return next((n for n in ("lo", "lo0") if n in names), next((n for n in names if n.startswith("lo")), None))


def launch_on_loopback(nproc: int, argv: list[str], max_restarts: int = 0) -> int:
    """Run ``python -m fakelens ARGV`` as ``nproc`` ranks on this machine; returns the first failed rank's exit code (0: all done)."""
    rendezvous_handler_registry.register(RENDEZVOUS_BACKEND, _create_handler)  # again with the same creator: a no-op
    interface = loopback_interface()
    if interface is not None:  # the ranks inherit this environment; an operator's own choice is kept
        for name in INTERFACE_VARIABLES:
            os.environ.setdefault(name, interface)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"fakelens-{uuid.uuid4().hex[:12]}",
        rdzv_backend=RENDEZVOUS_BACKEND,
        rdzv_endpoint=f"{LOOPBACK}:0",
        max_restarts=max_restarts,
        monitor_interval=0.5,
    )
    try:
        elastic_launch(config, sys.executable)("-m", "fakelens", *argv)
    except ChildFailedError as exc:
        # each rank has printed its own error; say which one failed first
        rank, failure = exc.get_first_failure()
        print(f"fakelens: error: rank {rank} of {nproc} exited with code {failure.exitcode}", file=sys.stderr)
        return failure.exitcode if failure.exitcode > 0 else 1
    return 0
