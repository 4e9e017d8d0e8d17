"""The exceptions of agent_client: synapse-sdk's hierarchy, by the same names.

::

    ClientError (base)
    ├── ClientConnectionError              # could not reach the agent (503)
    │   └── ClientResponseIncompleteError  # the answer broke off: a write may have happened
    ├── ClientTimeoutError                 # 408
    ├── HTTPError                          # the agent's error answers
    │   ├── AuthenticationError            # 401
    │   ├── AuthorizationError             # 403
    │   ├── NotFoundError                  # 404
    │   ├── ValidationError                # 400 / 422
    │   ├── RateLimitError                 # 429, with retry_after
    │   ├── ServerError                    # 5xx
    │   └── GpuUnavailableError            # 503, the cluster has no GPU
    └── StreamError                        # a log tail failed (500)
        ├── StreamLimitExceededError       # 429
        └── WebSocketError                 # 500

Every exception raised by a client has ``status_code`` set (see the table in the
README); the text never contains a token the client holds.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

__all__ = [
    'ClientError',
    'ClientConnectionError',
    'ClientResponseIncompleteError',
    'ClientTimeoutError',
    'HTTPError',
    'AuthenticationError',
    'AuthorizationError',
    'NotFoundError',
    'ValidationError',
    'RateLimitError',
    'ServerError',
    'GpuUnavailableError',
    'StreamError',
    'StreamLimitExceededError',
    'WebSocketError',
]


class ClientError(Exception):
    """Base exception for every client error.

    Attributes:
        status_code: the HTTP-style status code of the failure (see the README's table).
        detail: the error's details (the agent's message, or a parsed body).
        kind: which Rust ``ClientError`` variant it came from, in snake case
            (``not_found``, ``response_incomplete``, ...; ``agent_client._native.ERROR_CLASSES``
            lists them all); ``None`` for an exception made in Python.
    """

    status_code: Optional[int]
    detail: Any
    kind: Optional[str] = None

    def __init__(self, status_code: Optional[int] = None, detail: Any = None):
        self.status_code = status_code
        self.detail = detail
        if status_code is not None:
            super().__init__(f'{status_code}: {detail}')
        else:
            super().__init__(str(detail) if detail else '')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(status_code={self.status_code}, detail={self.detail!r})'


class ClientConnectionError(ClientError):
    """The agent could not be reached (503)."""

    def __init__(self, detail: Any = None, *, status_code: Optional[int] = 503):
        super().__init__(status_code=status_code, detail=detail)


class ClientResponseIncompleteError(ClientConnectionError):
    """The request may have reached the agent, but its answer broke off.

    A write may have happened: re-sending a non-idempotent request could duplicate it.
    """


class ClientTimeoutError(ClientError):
    """A connect, read or idle-stream time-out (408)."""

    def __init__(self, detail: Any = None):
        super().__init__(status_code=408, detail=detail)


class HTTPError(ClientError):
    """The agent answered with an error status."""


class AuthenticationError(HTTPError):
    """401 Unauthorized."""

    def __init__(self, detail: Any = None):
        super().__init__(status_code=401, detail=detail)


class AuthorizationError(HTTPError):
    """403 Forbidden."""

    def __init__(self, detail: Any = None):
        super().__init__(status_code=403, detail=detail)


class NotFoundError(HTTPError):
    """404 Not Found."""

    def __init__(self, detail: Any = None):
        super().__init__(status_code=404, detail=detail)


class ValidationError(HTTPError):
    """400 (refused input) or 422 (the agent rejected the body).

    FastAPI-style details come out as ``loc -> field: msg (type=...)`` lines.
    """

    def __init__(self, status_code: int = 400, detail: Any = None):
        self.status_code = status_code
        self.detail = detail
        Exception.__init__(self, self._format_message(status_code, detail))

    def _format_message(self, status_code: int, detail: Any) -> str:
        errors = self._extract_errors(detail)
        if not errors:
            return f'{status_code}: {detail}'
        lines = [f'{status_code} Validation Error:']
        for err in errors:
            loc = ' -> '.join(str(part) for part in err.get('loc', []))
            line = f'  {loc}: {err.get("msg", "Unknown error")}'
            if err.get('type'):
                line += f' (type={err["type"]})'
            lines.append(line)
        return '\n'.join(lines)

    @staticmethod
    def _extract_errors(detail: Any) -> List[Dict[str, Any]]:
        if isinstance(detail, dict):
            inner = detail.get('detail')
            if isinstance(inner, list):
                return inner
        if isinstance(detail, list):
            return detail
        return []


class RateLimitError(HTTPError):
    """429 Too Many Requests; ``retry_after`` is the agent's Retry-After in seconds."""

    retry_after: Optional[float]

    def __init__(self, detail: Any = None, retry_after: Optional[float] = None):
        super().__init__(status_code=429, detail=detail)
        self.retry_after = retry_after


class ServerError(HTTPError):
    """5xx: the agent failed."""

    def __init__(self, status_code: int = 500, detail: Any = None):
        super().__init__(status_code=status_code, detail=detail)


class GpuUnavailableError(HTTPError):
    """503: the cluster lacks the GPUs the action needs."""

    def __init__(self, detail: Any = None):
        super().__init__(status_code=503, detail=detail)

    @property
    def message(self) -> str:
        if isinstance(self.detail, dict):
            return str(self.detail.get('message', self.detail))
        return str(self.detail) if self.detail else ''

    @property
    def error_details(self) -> Dict[str, Any]:
        if isinstance(self.detail, dict):
            return {k: v for k, v in self.detail.items() if k not in ('message', 'error_type')}
        return {}


class StreamError(ClientError):
    """A log tail failed: the agent sent an error event (500)."""


class StreamLimitExceededError(StreamError):
    """A stream limit (messages, lines, bytes) was exceeded (429)."""


class WebSocketError(StreamError):
    """The connection broke the protocol: a bad handshake or frame (500)."""


_CLASSES = {cls.__name__: cls for cls in [globals()[name] for name in __all__]}


def _native_error(
    class_name: str,
    *,
    kind: str,
    status_code: int,
    detail: Any,
    message: str,
    retry_after: Optional[float] = None,
) -> ClientError:
    """Builds the exception the Rust core chose (called from agent_client._native).

    The Rust side names a class of this module for every error kind (an exhaustive
    match); a name missing here is a bug, and fails loudly rather than falling back.
    """
    cls = _CLASSES[class_name]
    exc = cls.__new__(cls)
    exc.kind = kind
    exc.status_code = status_code
    exc.detail = detail
    if cls is RateLimitError:
        exc.retry_after = retry_after
    if isinstance(exc, ValidationError) and isinstance(detail, list):
        text = exc._format_message(status_code, detail)
    else:
        text = message
    Exception.__init__(exc, text)
    return exc
