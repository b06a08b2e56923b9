"""A loopback TCP proxy in front of a storage server: counts the bytes the server sends, and can cut the line.

Tests put it between thresher and moto or Azurite to measure what a job downloads (bytes from the
server) and to make the server unreachable for a while (``cut``: every open connection is dropped,
new ones are refused until ``restore``) without restarting the server (moto keeps its data in memory).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Proxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target>; ``downloaded`` counts bytes from the server."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.downloaded = 0
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so that close() is noticed at once
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True, name="storage-proxy")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.downloaded = 0

    def cut(self) -> None:
        """Drop every connection and refuse new ones (a lost network), until ``restore``."""
        self._cut.set()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                connection.close()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closing.set()
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            if self._cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if counted:
                    with self._lock:
                        self.downloaded += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    end.close()
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(sink)


@contextlib.contextmanager
def proxy(target: int) -> Iterator[Proxy]:
    running = Proxy(target)
    try:
        yield running
    finally:
        running.close()
