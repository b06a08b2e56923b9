"""The front's listening socket: every accepted connection gets TCP_NODELAY (an answer written in two parts,
head and body, must not wait for the client's delayed ACK: ~40 ms per keep-alive request otherwise), and
a port that is taken falls back to a free one."""

from __future__ import annotations

import asyncio
import socket

from thresher.server.online.front import listening_socket


def test_accepted_connections_have_tcp_nodelay() -> None:
    async def accept_one() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        sock = listening_socket("127.0.0.1", 0)
        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    assert asyncio.run(accept_one()) != 0


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    taken = listening_socket("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        other = listening_socket("127.0.0.1", port)
        assert other.getsockname()[1] not in (0, port)
        other.close()
    finally:
        taken.close()
