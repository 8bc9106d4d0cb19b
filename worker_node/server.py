"""The worker's HTTP server for the gateway's commands; every request but /healthz and /metrics carries the gateway's
signature (those two show counts only)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from worker_node.contract import commands
from worker_node.contract.commands import ROUTES, UNSIGNED_PATHS
from worker_node.contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from worker_node.engines.base import EngineError, SessionSpec
from worker_node.host import SessionHost
from worker_node.metrics import exposition

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": {}}}, status=status)


def build_app(
    host: SessionHost, token_hash: Callable[[], str], shipping: Callable[[], dict[str, int]] | None = None
) -> web.Application:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in UNSIGNED_PATHS:
            return await handler(request)
        body = await request.read()
        ok = verify(
            token_hash(),
            request.method,
            request.path,
            body,
            request.headers.get(TIMESTAMP_HEADER, ""),
            request.headers.get(SIGNATURE_HEADER, ""),
        )
        if not ok:
            return error(401, "bad_signature", "This command is not signed by this worker's gateway.")
        return await handler(request)

    async def payload(request: web.Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.read() or b"{}")
        except json.JSONDecodeError:
            raise web.HTTPBadRequest(text='{"error": {"code": "parse_error", "message": "invalid JSON"}}') from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text='{"error": {"code": "parse_error", "message": "expected an object"}}')
        return data

    def spec_of(request: web.Request, data: dict[str, Any]) -> SessionSpec:
        return SessionSpec(
            id=request.match_info["session_id"],
            epoch=int(data.get("epoch", 0)),
            engine=str(data.get("engine", host.engine.name)),
            pairing_method=str(data.get("pairing_method", "qr")),
            pairing_phone=str(data.get("pairing_phone", "")),
        )

    def stale(request: web.Request, data: dict[str, Any]) -> web.Response | None:
        hosted = host.get(request.match_info["session_id"])
        if hosted is not None and int(data.get("epoch", 0)) < hosted.spec.epoch:
            return error(409, "stale_epoch", "A newer assignment of this session is running here.")
        return None

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "sessions": len(host.hosted), **(shipping() if shipping else {})})

    async def metrics(request: web.Request) -> web.Response:
        body = exposition(host, shipping() if shipping else {})
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(request: web.Request) -> web.Response:
        data = await payload(request)
        await host.ensure(spec_of(request, data))
        return web.json_response({"ok": True}, status=202)

    async def stop(request: web.Request) -> web.Response:
        data = await payload(request)
        refused = stale(request, data)
        if refused:
            return refused
        await host.stop(request.match_info["session_id"])
        return web.json_response({"ok": True}, status=202)

    async def logout(request: web.Request) -> web.Response:
        data = await payload(request)
        refused = stale(request, data)
        if refused:
            return refused
        await host.logout(request.match_info["session_id"])
        return web.json_response({"ok": True}, status=202)

    async def forget(request: web.Request) -> web.Response:
        await host.forget(request.match_info["session_id"])
        return web.json_response({"ok": True}, status=202)

    def running(request: web.Request) -> Any:
        hosted = host.get(request.match_info["session_id"])
        if hosted is None:
            raise EngineError("not_running", "The session is not running on this worker.")
        return hosted

    async def pair_phone(request: web.Request) -> web.Response:
        data = await payload(request)
        try:
            code = await running(request).session.pair_phone(str(data.get("phone", "")))
        except EngineError as failure:
            return error(409, failure.code, failure.message)
        return web.json_response({"code": code})

    async def engine_command(request: web.Request) -> web.Response:
        data = await payload(request)
        try:
            answer = await running(request).session.command(request.match_info["command"], data)
        except EngineError as failure:
            return error(409, failure.code, failure.message)
        return web.json_response(answer)

    async def outbox(request: web.Request) -> web.Response:
        data = await payload(request)
        try:
            accepted = host.enqueue(
                request.match_info["session_id"],
                int(data.get("epoch", -1)),
                list(data.get("messages", [])),
                int(data.get("rate_per_minute", 30)),
            )
        except EngineError as failure:
            return error(409, failure.code, failure.message)
        return web.json_response({"accepted": accepted})

    async def chat_action(request: web.Request) -> web.Response:
        data = await payload(request)
        action = request.path.rsplit("/", 1)[-1]
        try:
            session = running(request).session
            if action == commands.MARK_READ:
                await session.mark_read(
                    str(data["chat_jid"]), str(data["sender_jid"]), [str(x) for x in data["wa_ids"]]
                )
                return web.json_response({"ok": True})
            if action == commands.CHECK_NUMBERS:
                return web.json_response({"results": await session.check_numbers([str(x) for x in data["phones"]])})
            await session.send_presence(str(data["to"]), str(data["state"]))
            return web.json_response({"ok": True})
        except EngineError as failure:
            return error(409, failure.code, failure.message)
        except (KeyError, TypeError, ValueError) as bad:
            return error(400, "bad_command", f"Malformed command: {bad!r}")

    app = web.Application(middlewares=[authenticate], client_max_size=64 * 1024 * 1024)
    handlers: dict[str, Handler] = {
        commands.START: start,
        commands.STOP: stop,
        commands.LOGOUT: logout,
        commands.FORGET: forget,
        commands.PAIR_PHONE: pair_phone,
        commands.OUTBOX: outbox,
        commands.SANDBOX: engine_command,
        **{action: chat_action for action in commands.CHAT_ACTIONS},
    }
    assert handlers.keys() == ROUTES.keys(), "every command of the contract has a handler"
    for name, route in ROUTES.items():
        app.router.add_post(route, handlers[name])
    app.router.add_get(commands.HEALTH_PATH, healthz)
    app.router.add_get(commands.METRICS_PATH, metrics)
    return app
