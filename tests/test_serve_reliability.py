"""#23.15: bodies that are not the JSON a route expects are 400s, not 500s; an upload the browser
abandons is dropped quietly (it printed a ~46-line traceback). Each test failed before its fix."""

import asyncio

from tests.test_serve_api import PORT, TOKEN, client, make_client, png  # noqa: F401 (fixtures)


def test_malformed_json_is_a_bad_request(client):  # noqa: F811
    deep = "[" * 100_000 + "]" * 100_000
    for route, body in (("/api/command", deep), ("/api/zip", deep), ("/api/zip", '{"ids": 5}'),
                        ("/api/zip", "[1, 2]"), ("/api/zip", '{"ids": {"a": 1}}')):
        response = client.post(route, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (route, body[:20], response.text)
        assert "error" in response.json()


def test_abandoned_upload_is_dropped_quietly(make_client, tmp_path):  # noqa: F811
    app = make_client().app
    messages = [{"type": "http.request", "body": png()[:40], "more_body": True}, {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT", "scheme": "http",
             "path": "/api/files", "raw_path": b"/api/files", "query_string": b"name=a.png", "root_path": "",
             "headers": [(b"host", f"127.0.0.1:{PORT}".encode()), (b"x-colorfuse-token", TOKEN.encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", PORT)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert not any((tmp_path / "serve0" / "inputs").iterdir())


def test_sigterm_stops_the_server_while_an_upload_stalls():
    """`colorfuse serve` ignored SIGTERM while a client stalled mid-upload, and its folder stayed."""
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
        stderr = served.stop()
        assert time.monotonic() - began < 20
    finally:
        stalled.close()
    folder = re.search(r"files stay in (\S+)", stderr).group(1)
    assert not os.path.exists(folder)
    assert "Traceback" not in stderr, stderr
