"""The ASGI middleware in front of every route.

Request ids, API keys, the body limit, the per-key rate limit, metrics and the JSON access log.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streamed MCP responses pass untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.routing import BaseRoute, Match

from kgrag.serve import metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access = logging.getLogger("kgrag.serve.access")

# reachable without a key: liveness, readiness, the page and the API description
PUBLIC = ("/healthz", "/readyz", "/static/", "/docs", "/openapi.json")


def is_public(path: str) -> bool:
    """Whether ``path`` is served without an API key: the page, health, static and API-docs routes."""
    return path == "/" or any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC)


def fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key (for logs and rate-limit buckets)."""
    return hashlib.sha256(key).hexdigest()[:12]


class Guard:
    """Wraps the app.

    Args:
        app: the FastAPI app.
        keys: accepted API keys (empty: no key needed; only allowed on loopback).
        max_body_bytes: larger bodies get 413.
        rate_limit: per key (or client address) in ``limits`` syntax, e.g. ``600/minute``.
        routes: the app's routes, to label metrics by route template, not raw path.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: Sequence[bytes],
        max_body_bytes: int,
        rate_limit: str,
        routes: Callable[[], Sequence[BaseRoute]],
    ) -> None:
        self.app = app
        self.keys = list(keys)
        self.max_body = max_body_bytes
        self.item: RateLimitItem = parse(rate_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", "other")) or "/"
        return "unmatched"

    def _key(self, headers: dict[bytes, bytes]) -> bytes | None:
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            return auth[7:].strip()
        return headers.get(b"x-api-key")

    def _check_key(self, given: bytes | None) -> bool:
        if given is None:
            return False
        ok = False
        for k in self.keys:  # every key compared, in constant time each
            ok |= hmac.compare_digest(given, k)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: check and count the request, then pass it to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        path: str = scope["path"]
        status = {"code": 500, "started": False}
        who = "anonymous"

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        async def reply(
            code: int, error: str, text: str, extra: Sequence[tuple[bytes, bytes]] = ()
        ) -> None:
            body = json.dumps({"error": error, "message": text}).encode()
            await send_wrapped(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *extra,
                    ],
                }
            )
            await send_wrapped({"type": "http.response.body", "body": body})
            metrics.REJECTED.labels(error).inc()

        try:
            public = is_public(path)
            given = self._key(headers)
            if self.keys and not public and not self._check_key(given):
                await reply(
                    401,
                    "unauthorized",
                    "missing or invalid API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                    [(b"www-authenticate", b'Bearer realm="kgrag"')],
                )
                return
            if given is not None and self._check_key(given):
                who = "key:" + fingerprint(given)
            elif scope.get("client"):
                who = "addr:" + str(scope["client"][0])
            if not public and not self.limiter.hit(self.item, who):
                reset = self.limiter.get_window_stats(self.item, who).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                await reply(
                    429,
                    "rate_limited",
                    f"rate limit of {self.item} exceeded; retry after {wait} s",
                    [(b"retry-after", str(wait).encode())],
                )
                return
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await reply(413, "body_too_large", f"request body over {self.max_body:,} bytes")
                return
            seen = 0
            too_large = False

            async def receive_limited() -> Message:
                # past the limit the body is cut short, the app's answer is discarded
                # and a 413 is sent instead
                nonlocal seen, too_large
                message = await receive()
                if message["type"] == "http.request" and not too_large:
                    seen += len(message.get("body", b""))
                    if seen > self.max_body:
                        too_large = True
                        return {"type": "http.request", "body": b"", "more_body": False}
                return message

            async def send_unless_too_large(message: Message) -> None:
                if not too_large:
                    await send_wrapped(message)

            await self.app(scope, receive_limited, send_unless_too_large)
            if too_large and not status["started"]:
                await reply(413, "body_too_large", f"request body over {self.max_body:,} bytes")
        finally:
            route = self._route(scope)
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(scope.get("method", ""), route, str(status["code"])).inc()
            metrics.LATENCY.labels(route).observe(elapsed)
            access.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": scope.get("method"),
                    "route": route,
                    "status": status["code"],
                    "ms": round(elapsed * 1000, 2),
                    "client": who,
                },
            )
