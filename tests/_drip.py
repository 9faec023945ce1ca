"""A loopback server that accepts and then answers one byte at a time: every per-read timeout is
satisfied, so only an overall deadline stops a client from waiting for the whole answer."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

TOKEN_BODY = json.dumps({"access_token": "sk-ant-oat01-drip", "token_type": "Bearer", "expires_in": 600}).encode()


@dataclass
class Drip:
    """``phase="headers"`` drips the status line onwards; ``"body"`` sends headers at once, then drips.

    ``fast_paths`` are answered at once with a token response (so an SDK can get past the exchange).
    """

    phase: str = "headers"
    interval: float = 1.0
    fast_paths: tuple[str, ...] = ()
    size: int = 120
    port: int = 0
    requests: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                head = _read_head(conn)
                if not head:
                    return
                target = head.split(b" ")[1].decode()
                self.requests.append(target)
                if any(target.startswith(p) for p in self.fast_paths):
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                                 + str(len(TOKEN_BODY)).encode() + b"\r\n\r\n" + TOKEN_BODY)
                    continue
                body = b"x" * self.size
                head_out = b"HTTP/1.1 200 OK\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
                if self.phase == "body":
                    conn.sendall(head_out)
                    payload = body
                else:
                    payload = head_out + body
                for i in range(len(payload)):
                    if self._stop.wait(self.interval):
                        return
                    try:
                        conn.sendall(payload[i:i + 1])
                    except OSError:
                        return
                return

    def _serve(self, listener: socket.socket) -> None:
        listener.settimeout(0.2)  # so the loop sees the stop flag
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()


def _read_head(conn: socket.socket) -> bytes:
    """The request head (and drop a small body: the clients here send Content-Length bodies)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head


@contextmanager
def drip_server(**kwargs: object) -> Iterator[Drip]:
    drip = Drip(**kwargs)  # type: ignore[arg-type]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    drip.port = listener.getsockname()[1]
    thread = threading.Thread(target=drip._serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield drip
    finally:
        drip._stop.set()
        thread.join(timeout=5)
        listener.close()
