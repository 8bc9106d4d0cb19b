"""Session events are fenced by epoch; message events, facts about what WhatsApp did, are not."""

from __future__ import annotations

import pytest

from sessions_app.models import Direction, Message, MessageStatus, SessionState
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import event
from workers_app.tests.factories import worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
EVENTS = "/internal/v1/events"


def test_a_send_reported_under_an_old_epoch_still_marks_the_message_sent() -> None:
    old_worker, raw = worker_with_token()
    new_worker, _ = worker_with_token()
    session = SessionFactory.create(worker=new_worker, epoch=5, state=SessionState.CONNECTED)
    message = Message.objects.create(
        workspace=session.workspace, session=session, direction=Direction.OUTBOUND, type="text",
        chat_jid="15550100002@s.whatsapp.net", content={"text": "hi"}, status=MessageStatus.QUEUED,
    )  # fmt: skip
    sent = event(session, "message.sent", {"message_id": str(message.pk), "wa_id": "3EB0AA"}, epoch=4)
    stale_state = event(session, "session.state", {"state": "stopped"}, epoch=4)

    answer = worker_client(raw).post(EVENTS, {"events": [sent, stale_state]}, format="json").json()

    assert answer["accepted"] == [sent["id"]]
    assert answer["rejected"] == [{"id": stale_state["id"], "code": "stale_epoch"}]
    message.refresh_from_db()
    assert (message.status, message.wa_id) == (MessageStatus.SENT, "3EB0AA")
    session.refresh_from_db()
    assert session.state == SessionState.CONNECTED
    assert old_worker.pk != new_worker.pk
