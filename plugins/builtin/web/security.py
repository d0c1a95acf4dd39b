"""The server's gate: the token, the Host and Origin checks, and headers that keep the page to itself.

- **Token.** Every request needs the token printed at start (``?token=``, the ``X-Colorfuse-Token``
  header, or the cookie the first tokened visit sets), as Jupyter does. A page visit with the token
  in the URL is redirected to the same URL without it, so it stays out of history and Referer.
- **Host (DNS rebinding).** The Host header must name this machine: an IP address, ``localhost``, or
  the machine's own name. A rebinding attack reaches 127.0.0.1 under the attacker's domain name,
  which this refuses.
- **Origin.** A request a browser marks with another origin (Origin, or Sec-Fetch-Site: cross-site)
  is refused, so other sites cannot post to the server even with the cookie.
- **WebSockets** are closed at once: the page uses none.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse

HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def machine_names() -> set[str]:
    """``localhost`` and this machine's names, lower case."""
    names = {"localhost", "localhost.localdomain"}
    for name in (socket.gethostname(), socket.getfqdn()):
        names.add(name.lower())
    return names


def host_allowed(host: str, names: set[str]) -> bool:
    """Whether a Host header (``name[:port]``) names this machine: an IP literal or one of ``names``."""
    hostname = urlsplit(f"//{host}").hostname if host else None
    if not hostname:
        return False
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        return hostname.lower().rstrip(".") in names


class Gate:
    """ASGI middleware in front of the app: refuses what the module docstring describes, adds HEADERS."""

    def __init__(self, app, token: str | None, port: int):
        self.app, self.token = app, token
        self.cookie = f"colorfuse-token-{port}"  # cookies are shared across ports: one name per server
        self.names = machine_names()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # the page uses none: refused before the app sees it
            return await send({"type": "websocket.close", "code": 1008})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self.refusal(scope)
        if refusal is not None:
            return await self._with_headers(refusal)(scope, receive, send)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if self.token and "token" in query and scope["method"] == "GET" and not scope["path"].startswith("/api/"):
            rest = urlencode({key: value for key, value in query.items() if key != "token"})
            response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict")
            return await self._with_headers(response)(scope, receive, send)
        return await self.app(scope, receive, self._adding_headers(send))

    def refusal(self, scope) -> PlainTextResponse | None:
        """A 403 response saying why the request is refused, or None to let it through."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not host_allowed(host, self.names):
            return PlainTextResponse(f"refused: Host {host!r} is not this machine (DNS rebinding protection); "
                                     "open the URL colorfuse serve printed", status_code=403)
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            return PlainTextResponse(f"refused: a request from another site ({origin})", status_code=403)
        if headers.get("sec-fetch-site") == "cross-site":
            return PlainTextResponse("refused: a request from another site", status_code=403)
        if self.token and not self._has_token(scope, headers):
            return PlainTextResponse("refused: this server needs the token in the URL colorfuse serve printed "
                                     "(http://HOST:PORT/?token=...)", status_code=403)
        return None

    def _has_token(self, scope, headers: Headers) -> bool:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header counts as none
            cookies = SimpleCookie()
        given = [query.get("token"), headers.get("x-colorfuse-token"),
                 cookies[self.cookie].value if self.cookie in cookies else None]
        return any(value is not None and hmac.compare_digest(value.encode(), self.token.encode()) for value in given)

    def _adding_headers(self, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in HEADERS if name not in present]
            await send(message)
        return sending

    def _with_headers(self, response):
        async def app(scope, receive, send):
            await response(scope, receive, self._adding_headers(send))
        return app
