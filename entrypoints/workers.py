"""`serve --workers N`: uvicorn's worker supervisor with one listening socket per worker.

uvicorn's own `workers=N` binds one socket and shares it: whichever worker wakes first accepts
most of a burst of new connections, so long-lived keep-alive connections (a load balancer's, a
benchmark's) can pile onto one worker while the other idles (measured: `bench/run.py --workers 2`).
Here every worker gets a socket of its own bound with `SO_REUSEPORT` to the same address, and the
kernel spreads new connections over them. Everything else (health pings, restarts, signals,
graceful drain) is uvicorn's `Multiprocess`."""

from __future__ import annotations

import socket
from typing import Any

from uvicorn import Config
from uvicorn.supervisors.multiprocess import Multiprocess


def reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ReusePortMultiprocess(Multiprocess):
    """`Multiprocess` whose every new worker is handed a fresh `SO_REUSEPORT` socket.

    uvicorn reads `self.sockets` exactly once per worker it creates and starts that worker at
    once; the supervisor's copy of the previous worker's socket is closed at the next read (the
    worker holds its own), so no socket is left in the group without a process accepting on it."""

    def __init__(self, config: Config, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._handed: socket.socket | None = None
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        if self._handed is not None:
            self._handed.close()
        self._handed = reuseport_socket(self._host, self._port)
        self._port = self._handed.getsockname()[1]  # port 0: every worker on the first one chosen
        return [self._handed]

    @sockets.setter
    def sockets(self, _value: Any) -> None:  # set by Multiprocess.__init__; the getter makes them
        pass


def run_workers(app: str, workers: int, host: str, port: int, **options: Any) -> None:
    config = Config(app, factory=True, workers=workers, host=host, port=port, **options)
    ReusePortMultiprocess(config, host, port).run()
