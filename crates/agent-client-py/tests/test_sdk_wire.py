"""What our servers add to a tail's wire (numbered lines, "n": K, issue 22) leaves a
client that reads the way synapse-sdk does working unchanged: it streams the HTTP
tail (requests' ``stream=True`` + ``iter_lines``, here with the standard library),
decodes each ``data:`` payload as JSON and hands on the ``message`` of log events,
ignoring any other key. synapse-sdk itself is not installable here; the reader
below follows the spec's "Log tail events"."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any, Dict, Iterator, List, Tuple

from agent_client.testing import TestServer

JOB = 'raysubmit_sdkwire'


def iter_lines(resp: http.client.HTTPResponse) -> Iterator[str]:
    """requests' ``iter_lines()``: chunks as they come, split at line ends."""
    pending = b''
    while True:
        chunk = resp.read1(8192)
        if not chunk:
            break
        pending += chunk
        *whole, pending = pending.split(b'\n')
        for line in whole:
            yield line.rstrip(b'\r').decode('utf-8', 'replace')
    if pending:
        yield pending.decode('utf-8', 'replace')


def sdk_tail(server: TestServer, job: str, query: str = '') -> Tuple[List[str], List[Dict[str, Any]]]:
    """The SDK's HTTP tail: the lines it would yield, and the raw events seen."""
    url = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or '127.0.0.1', url.port, timeout=30)
    path = f'{url.path.rstrip("/")}/jobs/{job}/logs/stream/{query}'
    conn.request('GET', path, headers={'Authorization': server.token})
    resp = conn.getresponse()
    assert resp.status == 200
    got: List[str] = []
    events: List[Dict[str, Any]] = []
    for line in iter_lines(resp):
        if not line.strip():
            continue
        if not line.startswith('data: '):
            got.append(line)  # the SDK prints any other line as a log line
            continue
        payload = line[len('data: '):]
        try:
            event = json.loads(payload)
        except ValueError:
            got.append(payload)
            continue
        events.append(event)
        kind = event.get('type', 'log')
        if kind == 'log':
            if event.get('message'):
                got.append(event['message'])
        elif kind == 'complete':
            break
        elif kind == 'error':
            raise AssertionError(event.get('message'))
    conn.close()
    return got, events


def test_numbered_events_read_as_before() -> None:
    lines = ['first', '', 'third', '', '', 'sixth']
    with TestServer() as server:
        server.add_job(JOB, lines=lines)
        got, events = sdk_tail(server, JOB)
        # exactly the log's lines, empty ones skipped as the SDK skips them
        assert got == [line for line in lines if line]
        logs = [e for e in events if e.get('type') == 'log']
        # every log event carries its line's number, a key the SDK never reads
        assert [e.get('n') for e in logs] == list(range(1, len(lines) + 1))
        assert events[-1] == {'type': 'complete'}


def test_a_start_reads_as_a_shorter_log() -> None:
    lines = [f'line {i}' for i in range(1, 21)]
    with TestServer() as server:
        server.add_job(JOB, lines=lines)
        got, events = sdk_tail(server, JOB, '?from_line=18')
        assert got == lines[17:]
        assert events[0]['n'] == 18  # the start was honoured
        got, _ = sdk_tail(server, JOB, '?tail=2')
        assert got == lines[-2:]
