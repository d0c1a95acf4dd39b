"""`colorfuse serve`'s gate: the token (query, header, cookie), Host (DNS rebinding) and Origin checks."""

import pytest
from starlette.testclient import TestClient

from colorfuse.plugins.builtin.web.app import create_app
from colorfuse.plugins.builtin.web.library import Library
from colorfuse.plugins.builtin.web.security import host_allowed
from colorfuse.plugins.builtin.web.worker import Worker

PORT = 8765
TOKEN = "s3cret-token"


@pytest.fixture
def app(tmp_path):
    library, worker = Library(tmp_path / "serve", 1_000_000, None, 1 << 30), Worker()
    yield lambda token=TOKEN: create_app(library, worker, token, PORT, ["tiny"])
    worker.close()
    library.close()


def client_for(app, host="127.0.0.1", **kwargs):
    return TestClient(app, base_url=f"http://{host}:{PORT}", follow_redirects=False, **kwargs)


def test_requests_without_the_right_token_are_refused(app):
    client = client_for(app())
    for path in ("/", "/api/config", "/static/app.js"):
        refused = client.get(path)
        assert refused.status_code == 403 and "needs the token" in refused.text
    assert client.get("/api/config", params={"token": "wrong"}).status_code == 403
    assert client.get("/api/config", headers={"X-Colorfuse-Token": "wrong"}).status_code == 403
    assert client.get("/api/config", params={"token": TOKEN}).status_code == 200
    assert client.get("/api/config", headers={"X-Colorfuse-Token": TOKEN}).status_code == 200
    assert client.put("/api/files", params={"name": "a.png"}, content=b"x").status_code == 403


def test_a_tokened_visit_sets_a_cookie_and_drops_the_token_from_the_url(app):
    client = client_for(app())
    visit = client.get("/", params={"token": TOKEN})
    assert visit.status_code == 303 and visit.headers["location"] == "/"
    cookie = visit.headers["set-cookie"]
    assert cookie.startswith(f"colorfuse-token-{PORT}={TOKEN};")  # one cookie name per port
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/").status_code == 200  # the cookie is enough from now on
    assert client.get("/api/config").status_code == 200
    another_servers_cookie = client_for(app(), cookies={"colorfuse-token-9999": TOKEN})
    assert another_servers_cookie.get("/api/config").status_code == 403


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:8765", "127.0.0.1.nip.io", ""])
def test_foreign_hosts_are_refused_as_dns_rebinding(app, host):
    response = client_for(app()).get("/api/config", headers={"host": host, "X-Colorfuse-Token": TOKEN})
    assert response.status_code == 403 and "DNS rebinding" in response.text


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "192.168.1.20:8765"])
def test_this_machines_names_and_addresses_pass(host):
    import socket

    assert host_allowed(host, {"localhost"})
    assert host_allowed(socket.gethostname() + ":8765", {socket.gethostname().lower()})


def test_cross_site_requests_are_refused(app):
    client = client_for(app())
    headers = {"X-Colorfuse-Token": TOKEN}
    for origin in ("http://evil.example.com", "null", "http://127.0.0.1:9999"):
        refused = client.post("/api/command", json={}, headers={**headers, "origin": origin})
        assert refused.status_code == 403 and "another site" in refused.text
    cross = client.get("/api/config", headers={**headers, "sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    same = client.post("/api/command", json={}, headers={**headers, "origin": f"http://127.0.0.1:{PORT}"})
    assert same.status_code == 200


def test_no_token_mode_still_checks_host_and_origin(app):
    client = client_for(app(None))
    assert client.get("/api/config").status_code == 200
    assert client.get("/api/config", headers={"host": "evil.example.com"}).status_code == 403
    assert client.post("/api/command", json={}, headers={"origin": "http://evil.example.com"}).status_code == 403


def test_responses_carry_protective_headers(app):
    response = client_for(app()).get("/api/config", params={"token": TOKEN})
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_websockets_are_refused(app):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        with client_for(app()).websocket_connect("/", params={"token": TOKEN}) as socket:
            socket.receive_text()
    assert refused.value.code == 1008  # policy violation: the gate's, not the router's 1000 for no route


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/hints", None),
    ("POST", "/api/files/feedbeef/suggest", {"x": 1, "y": 1}),
    ("POST", "/api/files/feedbeef/render", {"hints": [{"x": 1, "y": 1, "color": "#a03020"}]}),
])
def test_the_hint_routes_are_behind_the_same_gate(app, method, path, body):
    client = client_for(app())
    token = {"X-Colorfuse-Token": TOKEN}

    def send(headers):
        return client.request(method, path, json=body, headers=headers)

    assert send({}).status_code == 403  # no token
    assert send({**token, "origin": "http://evil.example.com"}).status_code == 403
    assert send({**token, "host": "evil.example.com"}).status_code == 403
    assert send({**token, "sec-fetch-site": "cross-site"}).status_code == 403
    passed = send({**token, "origin": f"http://127.0.0.1:{PORT}"})
    assert passed.status_code == (200 if method == "GET" else 404)  # through the gate: the app answers
