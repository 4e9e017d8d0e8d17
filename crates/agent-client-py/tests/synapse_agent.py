"""A small Synapse agent on loopback for the SDK methods that hold logic.

The testkit serves the Ray side of the agent API; the Synapse-specific endpoints
(``system/update/`` restarting the agent's own containers, ``builds/``,
``containers/``, ``resources/``) it does not. This server answers them the way
synapse-sdk's docstrings describe, with state a test can steer: a restart takes
the agent down for a while (health answers 503, or the restart request's
connection is cut), builds run for a number of polls and then complete or fail.
It checks the agent token on every request (401 otherwise) before reading a body.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

TOKEN = 'synapse-agent-token'
MAX_BODY = 64 * 1024


class SynapseAgent:
    """The server and its state; a context manager that stops it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: List[Tuple[str, str, Dict[str, List[str]], Any]] = []
        self.down_until = 0.0
        self.restart_takes = 0.0  # how long a restart keeps health at 503
        self.cut_restart = False  # cut the restart request's connection (no answer)
        self.operation_status = 'success'
        self.builds: Dict[str, List[Dict[str, Any]]] = {}
        self.policy: Dict[str, Any] = {'max_concurrent_jobs': 5, 'gatekeeping_enabled': False, 'future_knob': 1}
        self.containers = [{'id': i, 'status': 'running'} for i in range(1, 8)]
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                agent._handle(self, 'GET')

            def do_POST(self) -> None:
                agent._handle(self, 'POST')

            def do_PATCH(self) -> None:
                agent._handle(self, 'PATCH')

        self._server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._server.daemon_threads = True
        self.url = f'http://127.0.0.1:{self._server.server_address[1]}/'
        self.token = TOKEN
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> 'SynapseAgent':
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> List[str]:
        with self.lock:
            return [f'{m} {p}' for m, p, _, _ in self.requests]

    def last(self, method: str, path: str) -> Tuple[Dict[str, List[str]], Any]:
        with self.lock:
            for m, p, q, body in reversed(self.requests):
                if (m, p) == (method, path):
                    return q, body
        raise AssertionError(f'no {method} {path} among {self.paths()}')

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        if req.headers.get('Authorization') != TOKEN:
            return self._answer(req, 401, {'detail': 'Invalid token.'})
        length = int(req.headers.get('Content-Length') or 0)
        if length > MAX_BODY:
            return self._answer(req, 413, {'detail': 'too large'})
        raw = req.rfile.read(length) if length else b''
        body = json.loads(raw) if raw else None
        url = urlsplit(req.path)
        path, query = url.path.lstrip('/'), parse_qs(url.query)
        with self.lock:
            self.requests.append((method, path, query, body))
        status, answer = self._route(method, path, query, body)
        if status == 0:  # cut the connection without an answer
            req.close_connection = True
            req.connection.shutdown(2)
            return None
        return self._answer(req, status, answer)

    def _route(self, method: str, path: str, query: Dict[str, List[str]], body: Any) -> Tuple[int, Any]:
        now = time.monotonic()
        if path == 'health/':
            if now < self.down_until:
                return 503, {'detail': 'restarting'}
            return 200, {'status': 'ok'}
        if method == 'POST' and path in ('system/update/', 'system/restart/'):
            self.down_until = now + self.restart_takes
            if self.cut_restart:
                return 0, None
            if self.operation_status == 'in_progress':
                return 409, {'status': 'in_progress', 'message': 'An operation is already running'}
            return 200, {'status': self.operation_status, 'message': 'started', 'up_output': 'recreated'}
        if path.startswith('builds/'):
            states = self.builds.get(path.split('/')[1])
            if states is None:
                return 404, {'detail': 'Not found.'}
            return 200, states.pop(0) if len(states) > 1 else states[0]
        if path == 'containers/' and method == 'POST':
            build_id = f'b-{len(self.builds) + 1}'
            self.builds[build_id] = [
                {'status': 'building'},
                {'status': 'completed', 'result': {'id': 42, 'endpoint': 'http://127.0.0.1:7860', 'status': 'running'}},
            ]
            return 202, {'build_id': build_id, 'status_url': f'/builds/{build_id}/'}
        if path == 'containers/' and method == 'GET':
            page = int(query.get('page', ['1'])[0])
            size = int(query.get('page_size', ['100'])[0])
            chunk = self.containers[(page - 1) * size : page * size]
            more = page * size < len(self.containers)
            return 200, {
                'count': len(self.containers),
                'next': f'{self.url}containers/?page={page + 1}' if more else None,
                'results': chunk,
            }
        if path == 'resources/cluster/':
            return 200, {
                'collected_at': '2026-12-02T06:00:00Z',
                'stale': query.get('use_cache') == ['true'],
                'cpu': {'total': 16.0, 'used': 4.0, 'available': 12.0},
                'gpu': {'total_gpus': 2, 'available_gpus': 1},
                'node_counts': {'total': 2, 'alive': 2},
                'nodes': [{'node_id': 'n1', 'is_head_node': True, 'gpus': [{'index': 0, 'name': 'A100'}], 'shiny': 1}],
                'from_a_newer_agent': True,
            }
        if path == 'resources/policy/':
            if method == 'PATCH' and isinstance(body, dict):
                self.policy.update(body)
            return 200, dict(self.policy)
        return 404, {'detail': 'Not found.'}

    @staticmethod
    def _answer(req: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
        data = json.dumps(answer).encode()
        req.send_response(status)
        req.send_header('Content-Type', 'application/json')
        req.send_header('Content-Length', str(len(data)))
        req.end_headers()
        req.wfile.write(data)


def build_states(*states: Optional[str], error: str = 'boom') -> List[Dict[str, Any]]:
    """A build's answers, one per poll (the last one repeats)."""
    out: List[Dict[str, Any]] = []
    for s in states:
        if s == 'completed':
            out.append({'status': 'completed', 'result': {'id': 9}})
        elif s in ('failed', 'cancelled'):
            out.append({'status': s, 'error': error})
        else:
            out.append({'status': s or 'building'})
    return out
