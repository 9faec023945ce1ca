"""Every outbound HTTP client of the workload side, built in one place.

Why one place: httpx's timeouts bound each operation (connect, one read, one write), never the whole
call, so a server that sends one byte every second never trips a 5-second read timeout and a call
can hang for hours. Every client built here carries an **overall deadline**: each socket operation
may only use what is left of it (status line, headers and body alike), and a body that is still
arriving when it runs out is abandoned. A client built here also trusts the right CA (``verify``: a
CA bundle path, an SSL context, or ``True`` for the system CAs) and sends the lab's user agent;
:func:`request` and :func:`failures` turn transport failures into one typed :mod:`wif_lab.errors`
error that names the URL and says what to check.

The official SDK's ``httpx2`` clients get the same deadline through :func:`bound` (see :mod:`wif_lab.sdk`).
"""

from __future__ import annotations

import contextvars
import functools
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from .errors import ConfigurationError, ProviderUnreachable, WifLabError

Verify = str | Path | bool | ssl.SSLContext
DEFAULT_DEADLINE = 30.0
# A timeout this close to the deadline is the deadline's doing (socket timeouts round to milliseconds).
_SLACK = 0.05

TIMEOUT_HINT = ("that the service is up and not overloaded, and that no proxy or firewall holds the connection open "
                "without answering")
TLS_HINT = ("the CA bundle: the server's certificate must chain to a CA this client trusts (in the lab, the "
            "connection file's ca_bundle; behind a TLS-inspecting proxy, that proxy's CA); never turn verification off")

# The end (time.monotonic()) of the request this thread is sending; socket operations read it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("wif_lab_http_deadline", default=None)


# --- trust and identity ------------------------------------------------------------------------


def ssl_context(ca_bundle: str | Path) -> ssl.SSLContext:
    """A default-verifying context that trusts ``ca_bundle`` (e.g. the lab CA)."""
    try:
        return ssl.create_default_context(cafile=str(Path(ca_bundle).expanduser()))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot use the CA bundle {ca_bundle}: {exc}",
            hint="ca_bundle must be a readable PEM file of CA certificates (the lab's is 'ca_bundle' in the "
            "connection file); leave it empty to use the system's CAs",
        ) from exc


def ssl_verify(verify: Verify) -> bool | ssl.SSLContext:
    """httpx's ``verify``: a CA bundle path becomes an SSL context (a path string is deprecated there)."""
    return ssl_context(verify) if isinstance(verify, str | Path) else verify


@functools.cache
def user_agent() -> str:
    from importlib import metadata

    try:
        return f"wif-lab/{metadata.version('wif-lab')}"
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "wif-lab"


# --- the overall deadline ------------------------------------------------------------------------


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """The timeout a socket operation may use: its own, cut to what is left of the request's deadline."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the overall deadline has passed")
    return left if timeout is None else min(timeout, left)


class _ClampedStream:
    """An httpcore network stream whose reads and writes never outlast the current deadline."""

    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner = inner
        self._core = core

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, self._core.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, self._core.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> _ClampedStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _left(timeout, self._core.ConnectTimeout))
        return _ClampedStream(inner, self._core)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _ClampedBackend:
    """An httpcore network backend handing out :class:`_ClampedStream` connections."""

    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner = inner
        self._core = core

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> _ClampedStream:
        stream = self._inner.connect_tcp(host, port, _left(timeout, self._core.ConnectTimeout), local_address,
                                         socket_options)
        return _ClampedStream(stream, self._core)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None
                            ) -> _ClampedStream:
        stream = self._inner.connect_unix_socket(path, _left(timeout, self._core.ConnectTimeout), socket_options)
        return _ClampedStream(stream, self._core)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


Expired = Callable[[Any, float], Exception]  # (request, deadline) -> the error to raise


class _DeadlineBody:
    """A response body that must be complete by the deadline (the flavour's SyncByteStream is mixed in)."""

    def __init__(self, inner: Any, end: float, on_expiry: Callable[[], Exception], timeout: type[Exception]) -> None:
        self._inner = inner
        self._end = end
        self._on_expiry = on_expiry
        self._timeout = timeout

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            token = _DEADLINE.set(self._end)
            try:
                chunk = next(chunks, None)
            except self._timeout as exc:
                if time.monotonic() >= self._end - _SLACK:
                    raise self._on_expiry() from exc
                raise
            finally:
                _DEADLINE.reset(token)
            if chunk is None:
                return
            if time.monotonic() > self._end:  # a transport without clamped sockets (e.g. a test's)
                raise self._on_expiry()
            yield chunk

    def close(self) -> None:
        self._inner.close()


@functools.cache
def _body_class(byte_stream: type) -> type:
    return type("DeadlineBody", (_DeadlineBody, byte_stream), {})


class _DeadlineTransport:
    """Wraps a client's transport: each request gets ``deadline`` seconds from the moment it is sent."""

    def __init__(self, inner: Any, deadline: float, expired: Expired, flavor: ModuleType) -> None:
        self._inner = inner
        self._deadline = deadline
        self._expired = expired
        self._flavor = flavor

    def handle_request(self, request: Any) -> Any:
        end = time.monotonic() + self._deadline
        timeouts = dict(request.extensions.get("timeout") or {})
        timeouts["pool"] = min(timeouts.get("pool") or self._deadline, self._deadline)  # waiting for a connection
        request.extensions["timeout"] = timeouts
        token = _DEADLINE.set(end)
        try:
            response = self._inner.handle_request(request)
        except self._flavor.TimeoutException as exc:
            if time.monotonic() >= end - _SLACK:
                raise self._expired(request, self._deadline) from exc
            raise
        finally:
            _DEADLINE.reset(token)
        response.stream = _body_class(self._flavor.SyncByteStream)(
            response.stream, end, lambda: self._expired(request, self._deadline), self._flavor.TimeoutException)
        return response

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _DeadlineTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _timed_out(request: Any, deadline: float) -> Exception:
    """The default error: the flavour's own timeout exception, naming the request and the deadline."""
    flavor = httpx if isinstance(request, httpx.Request) else _httpx2()
    return flavor.TimeoutException(
        f"no complete answer from {request.method} {request.url} within the {deadline:g} s deadline",
        request=request)


def _httpx2() -> ModuleType:
    import httpx2

    return httpx2


def bound(client: Any, *, deadline: float, expired: Expired = _timed_out) -> Any:
    """Give every request of ``client`` (an ``httpx`` or ``httpx2`` client) an overall deadline; return it.

    Wraps the client's default transport and each proxy transport it mounted from the environment,
    and cuts their socket timeouts to what is left of the deadline. ``expired(request, deadline)``
    builds the error raised when it runs out (default: the flavour's ``TimeoutException``).
    """
    if isinstance(client, httpx.Client):
        flavor: ModuleType = httpx
        import httpcore as core
    else:
        flavor = _httpx2()
        import httpcore2 as core
    if not isinstance(client, flavor.Client):
        raise TypeError(f"bound() takes an httpx or httpx2 Client, not {type(client).__name__}")
    # httpx offers no public hook for either step: these private attributes are those of the httpx and
    # httpx2 versions this project pins, and tests/test_http.py fails loudly if a new version moves them.
    client._transport = _wrap(client._transport, deadline, expired, flavor, core)
    for pattern, transport in list(client._mounts.items()):
        if transport is not None:
            client._mounts[pattern] = _wrap(transport, deadline, expired, flavor, core)
    return client


def _wrap(transport: Any, deadline: float, expired: Expired, flavor: ModuleType, core: ModuleType
          ) -> _DeadlineTransport:
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None and not isinstance(backend, _ClampedBackend):
        pool._network_backend = _ClampedBackend(backend, core)  # type: ignore[union-attr]
    return _DeadlineTransport(transport, deadline, expired, flavor)


def clamps_sockets(client: Any) -> bool:
    """Whether every transport of ``client`` has deadline-clamped sockets (for tests and diagnostics)."""
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    return all(isinstance(t, _DeadlineTransport)
               and isinstance(getattr(getattr(t._inner, "_pool", None), "_network_backend", None), _ClampedBackend)
               for t in transports)


# --- building clients and sending requests ---------------------------------------------------------


def client(
    verify: Verify = True,
    *,
    deadline: float = DEFAULT_DEADLINE,
    transport: httpx.BaseTransport | None = None,
    trust_env: bool = True,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` trusting ``verify``, sending the lab's user agent, with an overall deadline.

    ``trust_env=False`` ignores proxy variables (IMDS is link-local and must never be proxied).
    """
    built = httpx.Client(verify=ssl_verify(verify), timeout=httpx.Timeout(deadline), transport=transport,
                         trust_env=trust_env, headers={"user-agent": user_agent(), **(headers or {})})
    return bound(built, deadline=deadline)


@contextmanager
def failures(
    url: str,
    *,
    what: str,
    deadline: float,
    hint: str | None = None,
    error: type[WifLabError] = ProviderUnreachable,
) -> Iterator[None]:
    """Turn an httpx failure inside the block into one ``error`` naming ``what`` and ``url``."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise error(f"no complete answer from {what} at {url} within the {deadline:g} s deadline",
                    hint=hint or TIMEOUT_HINT) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ConfigurationError(f"{url!r} is not a usable URL for {what}: {exc}",
                                 hint="an absolute https:// URL (http:// only for loopback and IMDS)") from exc
    except httpx.HTTPError as exc:
        text = f"{type(exc).__name__}: {exc}".rstrip(": ")
        tls = "CERTIFICATE_VERIFY_FAILED" in text
        raise error(f"no answer from {what} at {url}: {text}", hint=TLS_HINT if tls else hint) from exc


def request(
    method: str,
    url: str,
    *,
    what: str,
    verify: Verify = True,
    deadline: float = DEFAULT_DEADLINE,
    hint: str | None = None,
    error: type[WifLabError] = ProviderUnreachable,
    transport: httpx.BaseTransport | None = None,
    trust_env: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request on a fresh :func:`client` and return the complete response (any status).

    ``what`` names the service in errors ("the Claude API token endpoint"); ``hint`` says what to
    check when it cannot be reached; ``kwargs`` go to ``httpx.Client.request`` (json, data, params…).
    """
    with failures(url, what=what, deadline=deadline, hint=hint, error=error), \
            client(verify, deadline=deadline, transport=transport, trust_env=trust_env) as http:
        return http.request(method, url, **kwargs)
