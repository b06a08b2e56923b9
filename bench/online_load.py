"""P6's load generator: closed-loop HTTP/1.1 over keep-alive connections, and a null server to weigh it.

    python -m bench.online_load run --port 8000 --request req.http --connections 8 --duration 5 --warmup 2
    python -m bench.online_load null-server --port 8001

``run`` opens ``--connections`` connections to 127.0.0.1 and sends the raw request in ``--request`` (a
file holding the request line, headers and body, exactly as sent) on each of them, the next one as soon
as the answer to the last has arrived (closed loop), for ``--warmup`` seconds that are not counted and
then ``--duration`` seconds that are. It prints one JSON line: requests completed in the window, req/s,
p50/p99/mean latency, answers by status, and the CPU the generator itself used per request (user +
system, from ``getrusage``): what it adds to each round trip. A server that answers ``Connection:
close`` (gunicorn's sync workers) is reconnected to, the connect counted in the next request's time,
as a keep-alive client would pay it.

It is one thread per connection on a blocking socket (``sendall``, ``recv``; no HTTP library), a response
parsed only as far as its status, ``Content-Length`` or chunked framing and ``Connection`` header: about
as little Python per request as a client can have (an ``asyncio.Protocol`` client cost 1.5x the CPU per
request here). ``null-server`` (asyncio) answers every request with a fixed 2-byte body at once: its
round trip is the floor of loopback, the kernel and this generator together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NULL_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"


@dataclass(frozen=True)
class Answer:
    """A parsed response."""

    status: int
    keep_alive: bool
    body: bytes


def parse_response(buffer: bytearray) -> tuple[Answer, int] | None:
    """The first complete response in ``buffer`` and how many bytes it took; None while incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).split(b"\r\n")
    status = int(head[0].split(b" ", 2)[1])
    length, chunked, keep_alive = None, False, not head[0].startswith(b"HTTP/1.0")
    for line in head[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            keep_alive = value != b"close"
    start = end + 4
    if chunked:
        body, position = bytearray(), start
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            if len(buffer) < line_end + 2 + size + 2:
                return None
            body += buffer[line_end + 2 : line_end + 2 + size]
            position = line_end + 2 + size + 2
            if size == 0:
                return Answer(status, keep_alive, bytes(body)), position
    if length is None:
        length = 0 if status in (204, 304) else -1
    if length < 0:  # read to the end of the connection: not supported by a keep-alive benchmark
        raise ValueError("a response without Content-Length or chunked framing")
    if len(buffer) < start + length:
        return None
    return Answer(status, keep_alive, bytes(buffer[start : start + length])), start + length


@dataclass
class Tally:
    """What one connection saw in the measured window."""

    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # connection errors, by message
    reconnects: int = 0
    own_ns: list[int] = field(default_factory=list)  # per request: time in this generator's code (sending included)


def exchange(sock: socket.socket, request: bytes, buffer: bytearray, stamps: list[int] | None = None) -> Answer:
    """Send ``request`` on ``sock`` and read its answer (bytes past it stay in ``buffer``); ``stamps`` gets
    ``perf_counter_ns`` once the request is sent and once the answer's last bytes are read."""
    sock.sendall(request)
    if stamps is not None:
        stamps[0] = time.perf_counter_ns()
    while (parsed := parse_response(buffer)) is None:
        data = sock.recv(1 << 18)
        if stamps is not None:
            stamps[1] = time.perf_counter_ns()
        if not data:
            raise ConnectionError("the server closed the connection")
        buffer += data
    answer, used = parsed
    del buffer[:used]
    return answer


def connect(host: str, port: int, timeout: float = 120.0) -> socket.socket:
    """A client socket with Nagle off (every server here turns it off too, or should)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _client(host: str, port: int, request: bytes, window: tuple[int, int], tally: Tally) -> None:
    """One closed-loop connection until the window's end (``perf_counter_ns`` bounds)."""
    start, end = window
    clock = time.perf_counter_ns
    sock: socket.socket | None = None
    buffer = bytearray()
    stamps = [0, 0]
    while (began := clock()) < end:
        try:
            if sock is None:
                sock, buffer = connect(host, port), bytearray()
                tally.reconnects += began >= start
            answer = exchange(sock, request, buffer, stamps)
        except (OSError, ValueError) as error:
            if began >= start:
                tally.failures[f"{type(error).__name__}: {str(error)[:120]}"] += 1
            if sock is not None:
                sock.close()
            sock = None
            time.sleep(0.01)
            continue
        done = clock()
        if start <= done <= end:  # completions in the window: a steady state's rate, whenever they began
            tally.latencies_ns.append(done - began)
            tally.statuses[answer.status] += 1
            tally.own_ns.append((stamps[0] - began) + (done - stamps[1]))
        if not answer.keep_alive:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile, nearest rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load(host: str, port: int, request: bytes, *, connections: int, duration: float, warmup: float) -> dict[str, Any]:
    """Closed-loop load from one thread per connection; the figures of the measured window."""
    start = time.perf_counter_ns() + int(warmup * 1e9)
    end = start + int(duration * 1e9)
    tallies = [Tally() for _ in range(connections)]
    threads = [
        threading.Thread(target=_client, args=(host, port, request, (start, end), tally), daemon=True)
        for tally in tallies
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, (start - time.perf_counter_ns()) / 1e9))
    cpu_start = _cpu_seconds()
    for thread in threads:
        thread.join()
    used = _cpu_seconds() - cpu_start
    latencies = sorted(value / 1e6 for tally in tallies for value in tally.latencies_ns)
    statuses: Counter[int] = sum((tally.statuses for tally in tallies), Counter())
    failures: Counter[str] = sum((tally.failures for tally in tallies), Counter())
    done = len(latencies)
    return {
        "connections": connections,
        "duration_s": duration,
        "requests": done,
        "ok": sum(count for status, count in statuses.items() if 200 <= status < 300),
        "req_per_s": done / duration,
        "p50_ms": percentile(latencies, 50) if latencies else None,
        "p99_ms": percentile(latencies, 99) if latencies else None,
        "mean_ms": sum(latencies) / done if done else None,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "failures": dict(failures),
        "reconnects": sum(tally.reconnects for tally in tallies),
        "client_cpu_us_per_request": used / done * 1e6 if done else None,
        "client_own_us_p50": percentile([v / 1e3 for t in tallies for v in t.own_ns], 50) if done else None,
    }


class NullServer(asyncio.Protocol):
    """Answers each request (head plus ``Content-Length`` body) with ``NULL_ANSWER`` at once."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            assert self.transport is not None
            self.transport.write(NULL_ANSWER)


async def serve_null(port: int) -> None:
    """Run the null server until killed."""
    server = await asyncio.get_running_loop().create_server(NullServer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="load a server, print the figures as JSON")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--request", type=Path, required=True, help="the raw HTTP request to send")
    run.add_argument("--connections", type=int, default=1)
    run.add_argument("--duration", type=float, default=5.0)
    run.add_argument("--warmup", type=float, default=2.0)
    null = commands.add_parser("null-server", help="answer every request at once")
    null.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    if options.command == "null-server":
        asyncio.run(serve_null(options.port))
        return
    request = options.request.read_bytes()
    figures = load(
        options.host,
        options.port,
        request,
        connections=options.connections,
        duration=options.duration,
        warmup=options.warmup,
    )
    print(json.dumps(figures), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
