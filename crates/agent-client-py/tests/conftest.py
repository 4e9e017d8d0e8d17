"""Fixtures: a fresh sample agent (agent_client.testing.TestServer) per test."""

from __future__ import annotations

import socket
import threading
from typing import Iterator, List

import pytest

from agent_client import AgentClient
from agent_client.testing import TestServer


@pytest.fixture
def server() -> Iterator[TestServer]:
    with TestServer() as s:
        yield s


@pytest.fixture
def client(server: TestServer) -> AgentClient:
    return AgentClient(server.url, server.token)


def lines(prefix: str, n: int) -> List[str]:
    """The lines the Rust integration tests use: ``tail line 3: some log text``."""
    return [f'{prefix} line {i}: some log text' for i in range(n)]


class CountingProxy:
    """A TCP proxy in front of the test server that counts open connections, so a
    test can see a tail's connection close (as the Rust tests' proxy does)."""

    def __init__(self, target_url: str):
        host_port = target_url.split('//', 1)[1].rstrip('/')
        host, port = host_port.split(':')
        self._target = (host, int(port))
        self._listener = socket.socket()
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(16)
        self.url = f'http://127.0.0.1:{self._listener.getsockname()[1]}/'
        self._lock = threading.Lock()
        self._open = 0
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def open(self) -> int:
        with self._lock:
            return self._open

    def _accept(self) -> None:
        while not self._stopped:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return
            up = socket.create_connection(self._target)
            with self._lock:
                self._open += 1
            state = {'left': 2}
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(a, b, state), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, state: dict) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                state['left'] -= 1
                if state['left'] == 0:
                    self._open -= 1
                    src.close()
                    dst.close()

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()


@pytest.fixture
def proxy(server: TestServer) -> Iterator[CountingProxy]:
    p = CountingProxy(server.url)
    yield p
    p.stop()
