"""Request bodies have a time limit: a client that stops sending mid-body gets a 408 and holds nothing.

:class:`BodyTimeout` wraps the app's ``receive``: while a request's body is incomplete, each part must
arrive within the limit, or :class:`BodyStalled` is raised where the route reads it (a route's
handler for it answers 408; an upload's file is deleted as for any refused upload). Once the body is
complete, ``receive`` waits as long as the app likes (a download waits on it for the disconnect).
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse

BODY_IDLE_S = 30.0  # the longest a request body may go without a byte


class BodyStalled(Exception):
    """The client sent no part of the request body for the time limit."""


async def stalled_response(request, exc: BodyStalled) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=408)


class BodyTimeout:
    """ASGI middleware: each part of a request body must come within ``seconds``."""

    def __init__(self, app, seconds: float = BODY_IDLE_S):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        complete = False

        async def timed_receive():
            nonlocal complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except asyncio.TimeoutError:
                raise BodyStalled(f"the request body stalled: nothing came for {self.seconds:g} s") from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
