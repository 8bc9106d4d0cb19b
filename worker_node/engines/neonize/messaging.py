"""The messaging half of ``NeonizeSession``: the engine interface's send, read receipts, number checks and presence,
and the loop's side of received messages. The work itself is in ``outgoing`` and ``inbound``; the blocking parts run
in the engine's call pool, one Go call at a time through ``Attempt.call`` (GO_LOCK held shared while it enters Go).
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from typing import Any

from worker_node.engines.base import Account, EngineError, GenericEvent, SentReceipt
from worker_node.engines.neonize import inbound, outgoing, preview
from worker_node.engines.neonize.attempt import Attempt
from worker_node.engines.neonize.runtime import NeonizeConfig


class Messaging:
    """Mixed into ``NeonizeSession``, which owns these attributes."""

    config: NeonizeConfig
    _loop: asyncio.AbstractEventLoop | None
    _attempt: Attempt | None
    _account: Account | None
    _online: bool
    _quotes: outgoing.QuoteCache
    _receiver: inbound.Receiver

    def _halting(self) -> bool:
        raise NotImplementedError

    def _call_pool(self) -> Executor:
        raise NotImplementedError

    def _outbound(self) -> outgoing.Outbound:
        attempt = self._attempt
        if attempt is None or not self._online or not attempt.alive() or self._halting():
            raise EngineError("not_connected", "The session is not connected to WhatsApp.")
        return outgoing.Outbound(
            attempt.client, attempt.call, self._quotes, me=self._account.jid if self._account else "",
            preview=functools.partial(preview.link_preview, allow_private=self.config.preview_allow_private),
        )  # fmt: skip

    async def _in_calls(self, timeout: float, fn: Any, *args: Any) -> Any:
        assert self._loop is not None
        future = self._loop.run_in_executor(self._call_pool(), functools.partial(fn, *args))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise EngineError("timeout", f"WhatsApp did not answer within {timeout:.0f} s; it may still act on it.")

    async def send(self, message: dict[str, Any]) -> SentReceipt:
        out = self._outbound()  # refuses before the media is read; a drop meanwhile is caught at the Go call
        data = await outgoing.read_media(message)
        receipt: SentReceipt = await self._in_calls(self.config.send_timeout, outgoing.send, out, message, data)
        return receipt

    async def mark_read(self, chat_jid: str, sender_jid: str, wa_ids: list[str]) -> None:
        out = self._outbound()
        await self._in_calls(self.config.call_timeout, outgoing.mark_read, out, chat_jid, sender_jid, wa_ids)

    async def check_numbers(self, phones: list[str]) -> list[dict[str, Any]]:
        out = self._outbound()
        results: list[dict[str, Any]] = await self._in_calls(
            self.config.call_timeout, outgoing.check_numbers, out, phones
        )
        return results

    async def send_presence(self, to: str, state: str) -> None:
        await self._in_calls(self.config.call_timeout, outgoing.send_presence, self._outbound(), to, state)

    # --- received messages (on the loop) ---------------------------------------------------------------------------

    def _handle_received(self, attempt: Attempt, event: GenericEvent, message: Any, spec: Any) -> None:
        if attempt is not self._attempt or self._halting():
            return
        self._quotes.put(str(event.data.get("wa_id", "")), inbound.unwrap(message))
        self._receiver.put(event, message, spec)

    async def _download(self, message: Any) -> bytes:
        """For the Receiver: a received message's media, through whichever client is live now."""
        attempt = self._attempt
        if attempt is None or not attempt.alive():
            raise EngineError("not_connected", "The session is not connected to WhatsApp.")
        data: bytes = await self._in_calls(self.config.send_timeout, attempt.call, attempt.client.download_any, message)
        return data
