"""The pieces bench.layers measures: each piece of the performance layer and what it stands in for.

Every ``Piece`` lists its variants, the stock one (the ORM, Django's or channels_redis's own way) first. Hand-written
statements that the code still runs are imported from where they live, so the figure is the code's; the ORM form
beside each is the one the code would use instead. Lookups that went back to the ORM keep their written-out form here
only, to show what the decision rested on.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

STATEMENTS, CACHE, ASGI, FANOUT, REQUESTS = "statements", "cache", "asgi", "fanout", "requests"


@dataclass
class Variant:
    name: str
    call: Callable[[], Any]
    reset: Callable[[], Any] | None = None  # run before each call, outside the clock


@dataclass
class Piece:
    group: str
    name: str
    variants: list[Variant]
    calls: int  # per variant and round
    process_cpu: bool = False  # CPU of every thread of the process, not only the caller's (the ASGI handlers)
    # Facts per variant measured once outside the clock (statements per call, Redis connections, cyclic garbage).
    probes: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)


@dataclass
class World:
    """What the pieces work on: a workspace, a worker holding a connected session, an API key."""

    workspace: Any
    worker: Any
    worker_prefix: str
    session: Any
    outbox_session: Any
    raw_api_key: str
    raw_worker_token: str


def build_world(*, history: int = 2000) -> World:
    from accounts.models import Scope, Workspace
    from accounts.services.api_keys import api_key_create
    from sessions_app.models import Message, SessionState, WhatsAppSession
    from workers_app.services.enrollment import WorkerProfile, enrollment_token_create, worker_register

    workspace = Workspace.objects.create(name="Layers")
    profile = WorkerProfile(name="w", advertise_url="http://127.0.0.1:1", engine="sandbox", capacity=10, version="")
    registration = worker_register(enrollment_token=enrollment_token_create(name="layers").raw, profile=profile)
    worker = registration.worker
    assert registration.raw_token is not None
    account = {"worker": worker, "epoch": 2, "state": SessionState.CONNECTED, "phone": "+15550100001",
               "jid": "15550100001:1@s.whatsapp.net"}  # fmt: skip
    sessions = [WhatsAppSession.objects.create(workspace=workspace, name=name, **account) for name in ("a", "b")]
    # A table that is not empty, so that the indexes are what they are in use.
    Message.objects.bulk_create(
        [_message(sessions[0], status="read", wa_id=f"3EBHIST{n}") for n in range(history)], batch_size=1000
    )
    key = api_key_create(workspace=workspace, name="layers", scopes=list(Scope.values), created_by=None)
    return World(workspace, worker, worker.token_prefix, sessions[0], sessions[1], key.raw_key, registration.raw_token)


def _message(session: Any, **fields: Any) -> Any:
    from sessions_app.models import Direction, Message

    now = timezone.now()
    values = {
        "workspace_id": session.workspace_id, "session": session, "direction": Direction.OUTBOUND, "type": "text",
        "chat_jid": "15550100002@s.whatsapp.net", "sender_jid": "15550100001@s.whatsapp.net",
        "content": {"text": "hello"}, "status": "queued", "expires_at": now + timedelta(hours=4),
        "next_attempt_at": now, **fields,
    }  # fmt: skip
    return Message(**values)


def _received(session: Any, count: int) -> list[Any]:
    from sessions_app.models import Direction

    tag = uuid.uuid4().hex[:12]
    return [
        _message(session, direction=Direction.INBOUND, status="received", wa_id=f"3EB{tag}{n}") for n in range(count)
    ]


# --- hand-written statements against the ORM --------------------------------------------------------------------


def lookup_pieces(world: World) -> list[Piece]:
    from accounts.models import Workspace
    from paas import sql
    from sessions_app.models import WhatsAppSession
    from workers_app.models import Worker

    session, workspace = world.session, world.workspace

    def raw_first(model: Any, where: str, params: list[Any]) -> Any:
        return next(iter(model._default_manager.raw(f"SELECT * FROM {sql.table(model)} WHERE {where} LIMIT 1",  # noqa: S608
                                                    params)), None)  # fmt: skip

    session_where = f"{sql.column(WhatsAppSession, 'id')} = %s AND {sql.column(WhatsAppSession, 'workspace')} = %s"
    by_id = f"{sql.column(WhatsAppSession, 'id')} = %s"
    worker_by_id = f"{sql.column(Worker, 'id')} = %s"
    by_prefix = f"{sql.column(Worker, 'token_prefix')} = %s"

    def written_hand_over() -> Any:
        found = raw_first(WhatsAppSession, by_id, [sql.pk_value(WhatsAppSession, session.pk)])
        found.worker = raw_first(Worker, worker_by_id, [sql.pk_value(Worker, found.worker_id)])
        return found

    def orm_hand_over() -> Any:
        found = WhatsAppSession.objects.filter(pk=session.pk).first()
        assert found is not None
        worker_id: Any = found.worker_id
        found.worker = Worker.objects.filter(pk=worker_id).first()
        return found

    lookups = [
        ("session of a workspace (workspace_session: every send, every message read)", [
            Variant("ORM filter(pk=, workspace=).first()",
                    lambda: WhatsAppSession.objects.filter(pk=session.pk, workspace=workspace).first()),
            Variant("written out (sql.first)", lambda: raw_first(
                WhatsAppSession, session_where,
                [sql.pk_value(WhatsAppSession, session.pk), sql.pk_value(Workspace, workspace.pk)])),
        ]),
        ("session and its worker (connected_session: every hand-over)", [
            Variant("ORM: two filter(pk=).first()", orm_hand_over),
            Variant("ORM: select_related('worker'), one query",
                    lambda: WhatsAppSession.objects.select_related("worker").filter(pk=session.pk).first()),
            Variant("written out (two sql.first)", written_hand_over),
        ]),
        ("worker by token prefix (worker_authenticate: every event request, heartbeat)", [
            Variant("ORM filter(token_prefix=).first()",
                    lambda: Worker.objects.filter(token_prefix=world.worker_prefix).first()),
            Variant("written out (sql.first)", lambda: raw_first(Worker, by_prefix, [world.worker_prefix])),
        ]),
    ]  # fmt: skip
    return [Piece(STATEMENTS, name, variants, calls=300) for name, variants in lookups]


def insert_pieces(world: World, sizes: tuple[int, ...] = (4, 20, 200)) -> list[Piece]:
    from paas import sql
    from sessions_app.models import Message

    session = world.session
    pending: list[list[Any]] = [[]]

    def one() -> None:
        pending[0] = [_message(session)]

    pieces = [
        Piece(STATEMENTS, "one message INSERT (message_send: every send; a message received alone)", [
            Variant("ORM save(force_insert=True)", lambda: pending[0][0].save(force_insert=True), one),
            Variant("ORM bulk_create([message])", lambda: Message.objects.bulk_create(pending[0]), one),
            Variant("written out (sql.insert)", lambda: sql.insert(*pending[0]), one),
        ], calls=300),
    ]  # fmt: skip
    for size in sizes:

        def batch(size: int = size) -> None:
            pending[0] = _received(session, size)

        pieces.append(Piece(STATEMENTS, f"{size} received messages INSERT (store_received: an ingest batch)", [
            Variant("ORM bulk_create", lambda: Message.objects.bulk_create(pending[0]), batch),
            Variant("written out (sql.insert)", lambda: sql.insert(*pending[0]), batch),
        ], calls=max(10, 1200 // size)))  # fmt: skip
    return pieces


def advance_pieces(world: World, sizes: tuple[int, ...] = (1, 20, 200)) -> list[Piece]:
    from sessions_app.models import STATUS_RANK, Direction, Message
    from sessions_app.services.worker_events.message_events import advance

    session = world.session
    pieces = []
    for size in sizes:
        messages = Message.objects.bulk_create([_message(session) for _ in range(size)])
        ids = [message.pk for message in messages]
        rows: list[tuple[Any, ...]] = []

        def reset(ids: list[Any] = ids, rows: list[tuple[Any, ...]] = rows) -> None:
            Message.objects.filter(pk__in=ids).update(status="queued", wa_id="", sent_at=None)
            now = timezone.now()
            rows[:] = [(pk, now, f"3EB{uuid.uuid4().hex[:16]}", now) for pk in ids]

        def written(rows: list[tuple[Any, ...]] = rows) -> Any:
            with transaction.atomic():
                return advance(session, "sent", "id", rows, ("wa_id", "timestamp"))

        def orm(rows: list[tuple[Any, ...]] = rows, *, bulk: bool) -> Any:
            below = [name for name, rank in STATUS_RANK.items() if rank < STATUS_RANK["sent"]]
            with transaction.atomic():
                locked = Message.objects.select_for_update(no_key=True).filter(
                    session=session, direction=Direction.OUTBOUND, status__in=below, pk__in=[row[0] for row in rows]
                )
                found = {message.pk: message for message in locked}
                moved = []
                for pk, when, wa_id, timestamp in rows:
                    if (message := found.pop(pk, None)) is not None:
                        message.status, message.sent_at, message.wa_id, message.timestamp = (
                            "sent",
                            when,
                            wa_id,
                            timestamp,
                        )
                        moved.append(message)
                        if not bulk:
                            message.save(update_fields=["status", "sent_at", "wa_id", "timestamp"])
                if bulk and moved:
                    Message.objects.bulk_update(moved, ["status", "sent_at", "wa_id", "timestamp"])
                return moved

        pieces.append(Piece(STATEMENTS, f"{size} message.sent applied (advance: an ingest batch)", [
            Variant("ORM select_for_update + save() each", functools.partial(orm, bulk=False), reset),
            Variant("ORM select_for_update + bulk_update", functools.partial(orm, bulk=True), reset),
            Variant("written out (UPDATE ... FROM (VALUES ...))", written, reset),
        ], calls=max(5, 400 // size)))  # fmt: skip
    return pieces


def outbox_pieces(world: World, queued: int = 50) -> list[Piece]:
    from django.db.models import Q

    from sessions_app.models import Direction, Message
    from sessions_app.services.messages import outbox_queries

    session = world.outbox_session
    ids = [m.pk for m in Message.objects.bulk_create([_message(session) for _ in range(queued)])]
    selection = Message.objects.filter(session=session, direction=Direction.OUTBOUND, status="queued").filter(
        Q(dispatched_epoch__isnull=True) | ~Q(dispatched_epoch=session.epoch)
    )

    def undispatch() -> None:
        Message.objects.filter(pk__in=ids).update(dispatched_epoch=None)

    as_text = [str(pk) for pk in ids]
    return [
        Piece(STATEMENTS, f"batch of {queued} queued (undispatched_batch: every hand-over)", [
            Variant("ORM filter(...).order_by('created_at')[:500]",
                    lambda: list(selection.order_by("created_at")[:500])),
            Variant("written out", lambda: outbox_queries.undispatched_batch(session, 500)),
        ], calls=100),
        Piece(STATEMENTS, "anything more? (has_undispatched: every hand-over)", [
            Variant("ORM filter(...).exists()", selection.exists),
            Variant("written out", lambda: outbox_queries.has_undispatched(session)),
        ], calls=300),
        Piece(STATEMENTS, f"mark {queued} handed over (mark_dispatched: every hand-over)", [
            Variant("ORM filter(pk__in=, status=).update()", lambda: Message.objects.filter(
                pk__in=as_text, status="queued").update(dispatched_epoch=session.epoch), undispatch),
            Variant("written out", lambda: outbox_queries.mark_dispatched(as_text, session.epoch), undispatch),
        ], calls=100),
    ]  # fmt: skip


# --- the Redis cache: one pool per process ----------------------------------------------------------------------


def cache_piece(redis_url: str, prefix: str) -> Piece:
    """A request's throttle trip (INCR, EXPIRE, GET in one pipeline, as paas/api/throttling.py makes it) through a
    cache object of its own, as every ASGI request gets one."""
    from django.core.cache.backends.redis import RedisCache

    from paas.cache import SharedPoolRedisCache

    params = {"KEY_PREFIX": prefix, "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}

    def request(backend_class: Any) -> Callable[[], Any]:
        def call() -> Any:
            backend = backend_class(redis_url, params)
            key = backend.make_and_validate_key("throttle-probe")
            pipe = backend._cache.get_client(key, write=True).pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            pipe.get(key)
            return pipe.execute()

        return call

    variants = [Variant("Django's RedisCache", request(RedisCache)),
                Variant("paas.cache.SharedPoolRedisCache", request(SharedPoolRedisCache))]  # fmt: skip
    try:
        django_redis: Any = importlib.import_module("django_redis.cache")  # not a dependency: measured if installed
    except ImportError:
        pass
    else:

        def django_redis_call() -> Any:
            backend = django_redis.RedisCache(redis_url, {"KEY_PREFIX": prefix})
            key = backend.make_and_validate_key("throttle-probe")
            pipe = backend.client.get_client(write=True).pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            pipe.get(key)
            return pipe.execute()

        variants.append(Variant("django-redis RedisCache", django_redis_call))
    probes = {variant.name: _connections_probe(redis_url, variant.call) for variant in variants}
    return Piece(CACHE, "a request's throttle trip, cache object per request (paas/cache.py)", variants, calls=300,
                 probes=probes)  # fmt: skip


def _connections_probe(redis_url: str, call: Callable[[], Any], requests: int = 50) -> Callable[[], dict[str, Any]]:
    def probe() -> dict[str, Any]:
        import redis

        client = redis.Redis.from_url(redis_url)
        try:
            before = int(client.info("stats")["total_connections_received"])
            for _ in range(requests):
                call()
            opened = int(client.info("stats")["total_connections_received"]) - before - 1  # less our own INFO's
        finally:
            client.close()
        return {"Redis connections opened per request": round(max(opened, 0) / requests, 2)}

    return probe


# --- the ASGI handler -------------------------------------------------------------------------------------------


class _Loop:
    """An event loop on a thread of its own, as the server's: sync callers wait for it as request threads do."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


async def asgi_request(
    application: Any, path: str, headers: list[tuple[bytes, bytes]], method: str = "GET", body: bytes = b""
) -> int:
    """One request as uvicorn makes it: once the response is complete, receive() reports a disconnect."""
    answered = asyncio.Event()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = {"code": 0}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
        elif not message.get("more_body"):
            answered.set()

    if body:
        headers = [*headers, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await application(scope, receive, send)
    return status["code"]


def asgi_piece(world: World, loop: _Loop) -> Piece:
    import gc

    from django.core.handlers.asgi import ASGIHandler

    from paas.asgi_handler import SwitchboardASGIHandler

    headers = [(b"authorization", f"Bearer {world.raw_api_key}".encode())]

    def request(application: Any) -> Callable[[], Any]:
        def call() -> None:
            status = loop.run(asgi_request(application, "/api/v1/whoami", headers))
            assert status == 200, status

        return call

    def garbage(call: Callable[[], Any], requests: int = 50) -> Callable[[], dict[str, Any]]:
        def probe() -> dict[str, Any]:
            gc.collect()
            gc.disable()
            try:
                for _ in range(requests):
                    call()
                found = gc.collect()
            finally:
                gc.enable()
            return {"objects left in cycles per request": round(found / requests)}

        return probe

    variants = [Variant("Django's ASGIHandler", request(ASGIHandler())),
                Variant("paas.asgi_handler.SwitchboardASGIHandler", request(SwitchboardASGIHandler()))]  # fmt: skip
    probes = {variant.name: garbage(variant.call) for variant in variants}
    return Piece(ASGI, "GET /api/v1/whoami through the handler (paas/asgi_handler.py)", variants, calls=200,
                 process_cpu=True, probes=probes)  # fmt: skip


def request_pieces(world: World, loop: _Loop) -> list[Piece]:
    """Whole requests through the gateway's handler, the scale the pieces above are a share of: a send (the session
    lookup and the INSERT are two of its three statements) and an event request with one event (the worker lookup
    is one of its statements). The request body is built in the call (a few microseconds of JSON)."""
    import json

    from paas.asgi_handler import SwitchboardASGIHandler

    application = SwitchboardASGIHandler()
    session = world.session
    api = [(b"authorization", f"Bearer {world.raw_api_key}".encode())]
    internal = [(b"authorization", f"Bearer {world.raw_worker_token}".encode())]

    def call(
        path: str, headers: list[tuple[bytes, bytes]], body: Callable[[], Any], expected: int
    ) -> Callable[[], Any]:
        def request() -> None:
            status = loop.run(asgi_request(application, path, headers, "POST", json.dumps(body()).encode()))
            assert status == expected, status

        return request

    def event() -> dict[str, Any]:
        now = timezone.now().isoformat()
        data = {"wa_id": f"3EB{uuid.uuid4().hex[:16]}", "chat_jid": "15550100002@s.whatsapp.net",
                "sender_jid": "15550100002@s.whatsapp.net", "type": "text", "content": {"text": "hi"},
                "timestamp": now}  # fmt: skip
        envelope = {"id": str(uuid.uuid4()), "session_id": str(session.pk), "epoch": session.epoch,
                    "type": "message.received", "occurred_at": now, "data": data}  # fmt: skip
        return {"events": [envelope]}

    send = call(f"/api/v1/sessions/{session.pk}/messages", api, lambda: {"to": "+15550100002", "text": "hi"}, 202)
    return [
        Piece(REQUESTS, "POST /api/v1/sessions/{id}/messages (a send)", [Variant("the gateway's handler", send)],
              calls=200, process_cpu=True),
        Piece(REQUESTS, "POST /internal/v1/events, one message.received", [
            Variant("the gateway's handler", call("/internal/v1/events", internal, event, 200))], calls=200,
              process_cpu=True),
    ]  # fmt: skip


# --- publications to groups nobody is in ------------------------------------------------------------------------


def fanout_piece(loop: _Loop, groups: int = 20) -> Piece:
    """An ingest batch's publications to ``groups`` groups that nobody listens to (no portal page or event stream
    open): channels_redis's group_send for each, from the event loop, against fanout's one question to Redis."""
    from channels.layers import get_channel_layer

    from sessions_app.services.customer_events.fanout import groups_with_members

    layer = get_channel_layer()
    names = [f"bench-nobody-{n}" for n in range(groups)]
    message = {"type": "message.update", "message": {"id": "x", "status": "sent"}}

    async def send_all() -> None:
        for name in names:
            await layer.group_send(name, message)

    def ask() -> None:
        listened = groups_with_members(layer, names)
        assert listened == set(), listened

    return Piece(FANOUT, f"{groups} publications to groups nobody is in (groups_with_members)", [
        Variant("channels_redis group_send each", lambda: loop.run(send_all())),
        Variant("one pipelined ZCARD question first", ask),
    ], calls=50, process_cpu=True)  # fmt: skip


def all_pieces(world: World, loop: _Loop, *, redis_url: str, prefix: str, groups: set[str]) -> Iterator[Piece]:
    if STATEMENTS in groups:
        yield from lookup_pieces(world)
        yield from insert_pieces(world)
        yield from advance_pieces(world)
        yield from outbox_pieces(world)
    if CACHE in groups:
        yield cache_piece(redis_url, prefix)
    if ASGI in groups:
        yield asgi_piece(world, loop)
    if FANOUT in groups:
        yield fanout_piece(loop)
    if REQUESTS in groups:
        yield from request_pieces(world, loop)
