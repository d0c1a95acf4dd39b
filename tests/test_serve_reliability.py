"""#23.15: bodies that are not the JSON a route expects are 400s, not 500s; a body the browser abandons
is dropped with one log line naming the request (it printed a ~46-line traceback, then nothing at all).
Each test failed before its fix.

Covers plugins/builtin/web/bodies.py (upload bodies) and plugins/builtin/web/logs.py.
"""

import asyncio
import signal

import pytest

from tests.test_serve_api import PORT, TOKEN, client, make_client, png  # noqa: F401 (fixtures)


def test_malformed_json_is_a_bad_request(client):  # noqa: F811
    deep = "[" * 100_000 + "]" * 100_000
    for route, body in (("/api/command", deep), ("/api/zip", deep), ("/api/zip", '{"ids": 5}'),
                        ("/api/zip", "[1, 2]"), ("/api/zip", '{"ids": {"a": 1}}')):
        response = client.post(route, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (route, body[:20], response.text)
        assert "error" in response.json()


def put_file(app, receive, method="PUT", path="/api/files", query=b"name=a.png"):
    """The replies of ``app`` to an upload (or another request) whose body parts come from ``receive``,
    straight through ASGI."""
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", f"127.0.0.1:{PORT}".encode()), (b"x-colorfuse-token", TOKEN.encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", PORT)}
    asyncio.run(app(scope, receive, send))
    return sent


def _abandoning(first_part: bytes):
    """An ASGI ``receive`` whose client sends ``first_part`` of a longer body, then disconnects."""
    messages = [{"type": "http.request", "body": first_part, "more_body": True}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


def test_an_abandoned_body_is_one_log_line(make_client, tmp_path, caplog):  # noqa: F811
    """An abandoned upload printed a ~46-line traceback; then it was dropped without a word."""
    app = make_client().app
    sent = put_file(app, _abandoning(png()[:40]), query=b"name=holiday%0A1.png")
    assert sent[0]["status"] == 400
    assert not any((tmp_path / "serve0" / "inputs").iterdir())
    sent = put_file(app, _abandoning(b'{"model"'), method="POST", path="/api/command", query=b"")
    assert sent[0]["status"] == 400
    assert [record.getMessage() for record in caplog.records] == [
        'PUT /api/files: the upload "holiday\\n1.png" was abandoned: the client disconnected before the body '
        "was complete; nothing was kept",
        "POST /api/command: the request body was abandoned: the client disconnected before the body was "
        "complete; nothing was kept"]


def test_an_abandoned_upload_is_one_line_in_the_servers_log():
    """The real server: one line on stderr for an upload whose client went away mid-body, no traceback."""
    import socket
    import time
    from urllib.parse import parse_qs, urlparse

    from tests.test_serve_command import Served

    served = Served()
    address = urlparse(served.base)
    token = parse_qs(urlparse(served.url).query)["token"][0]
    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(f"PUT /api/files?name=a.png HTTP/1.1\r\nHost: {address.netloc}\r\nX-Colorfuse-Token: {token}"
                       "\r\nContent-Length: 100000\r\n\r\n".encode() + png()[:100])
        time.sleep(0.5)
    time.sleep(0.5)
    lines = served.stop().splitlines()
    assert [line for line in lines if "files stay in" not in line] == [
        'WARNING: PUT /api/files: the upload "a.png" was abandoned: the client disconnected before the body was '
        "complete; nothing was kept"], lines


def test_a_stalled_request_body_times_out(make_client, tmp_path):  # noqa: F811
    """#23.15: a client that stopped mid-upload held its request (and file) for as long as it liked."""
    import json
    import time

    parts = [{"type": "http.request", "body": png()[:40], "more_body": True}]

    async def receive():
        if parts:
            return parts.pop(0)
        await asyncio.sleep(10)  # the client sends nothing more, then goes away (without the limit: a 400, late)
        return {"type": "http.disconnect"}

    began = time.monotonic()
    sent = put_file(make_client(body_timeout=0.3).app, receive)
    assert time.monotonic() - began < 5
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"]) == {"error": "the request body stalled: nothing came for 0.3 s"}
    assert not any((tmp_path / "serve0" / "inputs").iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_while_an_upload_stalls(signum):
    """`colorfuse serve` ignored SIGTERM and a single Ctrl-C while a client stalled mid-upload, and its folder stayed."""
    import os
    import re
    import socket
    import time
    from urllib.parse import parse_qs, urlparse

    from tests.test_serve_command import Served

    served = Served()
    address = urlparse(served.base)
    token = parse_qs(urlparse(served.url).query)["token"][0]
    stalled = socket.create_connection((address.hostname, address.port), timeout=10)
    try:
        stalled.sendall(f"PUT /api/files?name=a.png HTTP/1.1\r\nHost: {address.netloc}\r\nX-Colorfuse-Token: {token}"
                        "\r\nContent-Length: 100000\r\n\r\n".encode() + png()[:100])  # and nothing more
        time.sleep(1)
        began = time.monotonic()
        stderr = served.stop(signum)
        assert time.monotonic() - began < 20
    finally:
        stalled.close()
    folder = re.search(r"files stay in (\S+)", stderr).group(1)
    assert not os.path.exists(folder)
    assert "Traceback" not in stderr, stderr


def test_folders_of_killed_servers_are_removed_by_the_next(tmp_path):
    """#23.15: the folder of a `colorfuse serve` killed with -9 stayed for ever; a live server's is kept."""
    import os

    from colorfuse.engine.imagefiles import owned_folder
    from tests.test_serve_command import Served

    env = {"TMPDIR": str(tmp_path)}
    killed = Served(env=env)
    killed.process.kill()
    killed.process.wait()
    folders = lambda: [name for name in os.listdir(tmp_path) if name.startswith("colorfuse-serve-")]  # noqa: E731
    [left] = folders()
    live, lock = owned_folder(tmp_path, "colorfuse-serve-")  # another server, alive
    try:
        served = Served(env=env)
        stderr = served.stop()
        assert folders() == [live.name], (left, stderr)
        assert served.process.returncode == 0, stderr
    finally:
        os.close(lock)


def test_a_stderr_nobody_reads_never_holds_the_server_up():
    """#23.15: with stderr a full pipe, the first log line (a bad request's, an upload's traceback) blocked
    the whole server."""
    import fcntl
    import os
    import socket
    from urllib.parse import urlparse

    from tests.test_serve_command import Served

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)  # the smallest pipe: one page
    try:
        served = Served(stderr=write_end)
        address = urlparse(served.base)
        for _ in range(200):  # uvicorn logs a warning line for each: "Invalid HTTP request received."
            with socket.create_connection((address.hostname, address.port), timeout=5) as bad:
                bad.sendall(b"\x00\x01 not http\r\n\r\n")
        status, _ = served.get("/api/config?" + served.url.split("?")[1])
        assert status == 200
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
    finally:
        os.close(write_end)
        os.close(read_end)
