"""Log tails through Python: every tail fault the Rust integration tests cover
(tests/tests/tails.rs), with the exception class and status_code."""

from __future__ import annotations

import threading
from typing import List, Optional, Tuple, Type

import pytest

from agent_client import AgentClient, StreamLimits
from agent_client.exceptions import (
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    NotFoundError,
    StreamError,
    StreamLimitExceededError,
    ValidationError,
    WebSocketError,
)
from agent_client.testing import TestServer

from conftest import lines

JOB = 'raysubmit_tail1'
ALL = ['auto', 'websocket', 'http']


def tail(
    client: AgentClient, protocol: str, timeout: float = 30.0, max_quiet: Optional[float] = None
) -> Tuple[List[str], Optional[ClientError]]:
    got: List[str] = []
    try:
        for line in client.tail_job_logs(JOB, timeout, protocol=protocol, max_quiet=max_quiet):
            got.append(line)
    except ClientError as e:
        return got, e
    return got, None


def failed(err: Optional[ClientError], cls: Type[ClientError], status: int) -> None:
    assert err is not None, 'the tail ended without an error'
    assert type(err) is cls, repr(err)
    assert err.status_code == status, repr(err)


@pytest.fixture
def job(server: TestServer) -> List[str]:
    want = lines('tail', 50)
    server.add_job(JOB, lines=want)
    return want


@pytest.mark.parametrize('protocol', ALL)
def test_a_finished_job_is_read_whole(client: AgentClient, job: List[str], protocol: str) -> None:
    assert tail(client, protocol) == (job, None)


def test_the_sample_jobs_read_the_same_over_every_protocol(client: AgentClient) -> None:
    want = client.get_job_logs('raysubmit_capture1').splitlines()
    for protocol in ALL:
        assert list(client.tail_job_logs('raysubmit_capture1', protocol=protocol)) == want


def test_a_running_job_is_followed_to_its_end(server: TestServer, client: AgentClient) -> None:
    server.add_job(JOB, lines=lines('tail', 2), running=True)
    it = client.tail_job_logs(JOB)
    assert [next(it), next(it)] == lines('tail', 2)
    server.append_lines(JOB, ['three'])
    assert next(it) == 'three'
    server.finish_job(JOB)
    assert list(it) == []


def test_an_unknown_job_is_404_on_first_next(client: AgentClient) -> None:
    it = client.tail_job_logs('raysubmit_nope')  # a generator, as synapse-sdk's
    with pytest.raises(NotFoundError) as e:
        next(it)
    assert e.value.status_code == 404


@pytest.mark.parametrize('protocol,events', [('websocket', 30), ('http', 40)])
def test_a_drop_mid_stream_is_an_error_under_a_fixed_protocol(
    server: TestServer, client: AgentClient, job: List[str], protocol: str, events: int
) -> None:
    server.set_tail_fault(JOB, 'drop_after', events=events, protocol=protocol)
    got, err = tail(client, protocol)
    failed(err, ClientConnectionError, 503)
    assert got == job[: len(got)] and len(got) <= events


def test_an_http_stream_cut_by_bytes_is_503(server: TestServer, client: AgentClient, job: List[str]) -> None:
    server.set_fault('tail_http', 'close_after_bytes', bytes=700)
    got, err = tail(client, 'http')
    failed(err, ClientConnectionError, 503)
    assert got == job[: len(got)]


def test_auto_resumes_a_dropped_websocket_without_duplicates_or_losses(
    server: TestServer, client: AgentClient, job: List[str]
) -> None:
    server.set_tail_fault(JOB, 'drop_after', events=30, protocol='websocket')
    assert tail(client, 'auto') == (job, None)
    assert server.request_count('tail_http') == 1


def test_auto_fails_when_the_resumed_stream_breaks_too(server: TestServer, client: AgentClient, job: List[str]) -> None:
    server.set_tail_fault(JOB, 'drop_after', events=10, protocol='websocket')
    server.set_tail_fault(JOB, 'drop_after', events=20, protocol='http')
    got, err = tail(client, 'auto')
    failed(err, ClientConnectionError, 503)
    assert got == job[: len(got)] and len(set(got)) == len(got)


@pytest.mark.parametrize('status', [500, 503])
def test_a_refused_websocket_falls_back_to_http_under_auto_only(
    server: TestServer, client: AgentClient, job: List[str], status: int
) -> None:
    server.set_fault('tail_websocket', status=status)
    assert tail(client, 'auto') == (job, None)
    got, err = tail(client, 'websocket')
    assert got == [] and err is not None and err.status_code == status


def test_a_refusal_that_is_not_a_failure_is_not_retried_over_http(
    server: TestServer, client: AgentClient, job: List[str]
) -> None:
    server.set_fault('tail_websocket', status=403, body={'detail': 'no logs for you'})
    got, err = tail(client, 'auto')
    assert got == [] and err is not None and err.status_code == 403
    assert server.request_count('tail_http') == 0


@pytest.mark.parametrize('protocol', ALL)
def test_an_error_event_is_a_stream_error_500(server: TestServer, client: AgentClient, job: List[str], protocol: str) -> None:
    server.set_tail_fault(JOB, 'error_after', lines=5, message='the worker died')
    got, err = tail(client, protocol)
    failed(err, StreamError, 500)
    assert 'the worker died' in str(err)
    assert got == job[:5]


def test_a_silence_longer_than_the_timeout_is_408_not_an_end(
    server: TestServer, client: AgentClient, job: List[str]
) -> None:
    # Over HTTP only blank-line heartbeats are a sign of life, and the test server
    # sends one after 1 s of quiet: a 0.5 s idle time-out trips first.
    server.set_tail_fault(JOB, 'silent_for', lines=3, seconds=20)
    got, err = tail(client, 'http', timeout=0.5)
    failed(err, ClientTimeoutError, 408)
    assert got == job[:3]


@pytest.mark.parametrize('protocol', ['websocket', 'auto'])
def test_a_quiet_job_on_a_live_websocket_is_never_a_408(
    server: TestServer, client: AgentClient, job: List[str], protocol: str
) -> None:
    # The client pings at least three times per idle time-out and the server answers:
    # a quiet job is alive, and its tail goes on to the end (spec, "Ends of a tail").
    server.set_tail_fault(JOB, 'silent_for', lines=3, seconds=2)
    assert tail(client, protocol, timeout=0.5) == (job, None)


@pytest.mark.parametrize('protocol', ALL)
def test_max_quiet_bounds_the_jobs_silence_on_both_protocols(
    server: TestServer, client: AgentClient, job: List[str], protocol: str
) -> None:
    # The server stays alive (pongs, heartbeats): only max_quiet ends the tail,
    # with a 408 that says the job was quiet (issue 24).
    server.set_tail_fault(JOB, 'silent_for', lines=3, seconds=20)
    got, err = tail(client, protocol, timeout=30, max_quiet=0.6)
    failed(err, ClientTimeoutError, 408)
    assert 'quiet job' in str(err)
    assert got == job[:3]


def test_a_silence_shorter_than_the_timeout_goes_on(server: TestServer, client: AgentClient, job: List[str]) -> None:
    server.set_tail_fault(JOB, 'silent_for', lines=3, seconds=0.2)
    for protocol in ALL:
        assert tail(client, protocol, timeout=5) == (job, None)


@pytest.mark.parametrize('protocol', ALL)
def test_oversized_messages_are_skipped(server: TestServer, client: AgentClient, job: List[str], protocol: str) -> None:
    server.set_tail_fault(JOB, 'oversized', lines=5, bytes=20_000)
    server.set_tail_fault(JOB, 'oversized', lines=5, bytes=64 * 1024, fragment=1000)
    assert tail(client, protocol) == (job, None)


def test_a_small_max_message_size_skips_more(server: TestServer, client: AgentClient, job: List[str]) -> None:
    server.set_tail_fault(JOB, 'oversized', lines=5, bytes=300)
    client.stream_limits = StreamLimits(max_message_size=200)
    for protocol in ALL:
        assert tail(client, protocol) == (job, None)


@pytest.mark.parametrize('protocol', ALL)
def test_exceeding_a_count_limit_is_stream_limit_exceeded_429(client: AgentClient, job: List[str], protocol: str) -> None:
    client.stream_limits = StreamLimits(max_messages=10, max_lines=10)
    got, err = tail(client, protocol)
    failed(err, StreamLimitExceededError, 429)
    assert got == job[: len(got)] and len(got) <= 10


def test_exceeding_max_bytes_is_429(client: AgentClient, job: List[str]) -> None:
    client.stream_limits = StreamLimits(max_bytes=200)
    for protocol in ALL:
        got, err = tail(client, protocol)
        failed(err, StreamLimitExceededError, 429)
        assert got == job[: len(got)]


@pytest.mark.parametrize('kind', ['not_json', 'bare_lines'])
def test_messages_that_are_not_json_are_lines(server: TestServer, client: AgentClient, job: List[str], kind: str) -> None:
    server.set_tail_fault(JOB, kind)
    for protocol in ALL:
        assert tail(client, protocol) == (job, None)


def test_invalid_utf8_is_replaced_over_http_and_auto(server: TestServer, client: AgentClient) -> None:
    server.add_job(JOB, lines=lines('tail', 8))
    server.set_tail_fault(JOB, 'invalid_utf8', lines=3)
    for protocol in ['http', 'auto']:
        got, err = tail(client, protocol)
        assert err is None
        assert got[:3] == lines('tail', 8)[:3] and '\ufffd' in got[3]


def test_invalid_utf8_over_a_websocket_alone_is_a_websocket_error(server: TestServer, client: AgentClient) -> None:
    server.add_job(JOB, lines=lines('tail', 8))
    server.set_tail_fault(JOB, 'invalid_utf8', lines=3)
    got, err = tail(client, 'websocket')
    failed(err, WebSocketError, 500)
    assert 'not valid UTF-8' in str(err)
    assert got == lines('tail', 8)[:3]


@pytest.mark.parametrize('protocol', ['http', 'websocket'])
def test_an_endless_line_is_skipped_never_delivered(server: TestServer, client: AgentClient, protocol: str) -> None:
    # A skipped line never ends a tail and never counts toward max_bytes (spec,
    # "Stream limits"): the endless line streams by, nothing is delivered, no error
    # and no end is claimed, until the caller closes the client. On a WebSocket too
    # (issue 24: a message is split into lines as its fragments arrive).
    server.add_job(JOB, lines=lines('tail', 10))
    server.set_tail_fault(JOB, 'endless_line', lines=3)
    client.stream_limits = StreamLimits(max_message_size=1024, max_bytes=256 * 1024)
    it = client.tail_job_logs(JOB, protocol=protocol)
    assert [next(it) for _ in range(3)] == lines('tail', 3)
    outcome: List[object] = []

    def rest() -> None:
        try:
            outcome.append(next(it))
        except BaseException as e:  # noqa: BLE001 - the outcome is what is checked
            outcome.append(e)

    reader = threading.Thread(target=rest)
    reader.start()
    reader.join(1.0)
    assert reader.is_alive() and outcome == [], outcome
    client.close()
    reader.join(10.0)
    assert not reader.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ClientError), outcome


def test_a_tail_ends_when_its_client_is_closed(server: TestServer, client: AgentClient) -> None:
    server.add_job(JOB, endless=True, line_bytes=30, rate=200.0)
    it = client.tail_job_logs(JOB)
    next(it)
    client.close()
    with pytest.raises(ClientError) as e:
        for _ in it:
            pass
    assert e.value.status_code == 500


def test_tail_arguments_are_validated(client: AgentClient) -> None:
    with pytest.raises(ValidationError):
        next(client.tail_job_logs(JOB, protocol='smoke-signals'))


@pytest.mark.parametrize('protocol', ALL)
def test_a_tail_starts_where_asked(client: AgentClient, job: List[str], protocol: str) -> None:
    """``tail=N`` and ``from_line=K`` are asked of the server (issue 22): the test
    agent numbers its lines and honours them."""
    assert list(client.tail_job_logs(JOB, protocol=protocol, tail=3)) == job[-3:]
    assert list(client.tail_job_logs(JOB, protocol=protocol, from_line=48)) == job[47:]
    assert list(client.tail_job_logs(JOB, protocol=protocol, tail=0)) == []


def test_bad_starts_are_400(client: AgentClient, job: List[str]) -> None:
    for kwargs in [{'tail': -1}, {'from_line': 0}, {'from_line': -2}, {'tail': 1, 'from_line': 1}]:
        with pytest.raises(ValidationError) as e:
            list(client.tail_job_logs(JOB, **kwargs))  # type: ignore[arg-type]
        assert e.value.status_code == 400, kwargs
