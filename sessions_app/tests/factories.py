"""Factories for WhatsApp sessions and their events."""

from __future__ import annotations

import factory

from accounts.tests.factories import WorkspaceFactory
from sessions_app.models import Desired, SessionState, WhatsAppSession
from workers_app.models import Engine


class SessionFactory(factory.django.DjangoModelFactory[WhatsAppSession]):
    """A session row as the database holds it; nothing is placed or sent to a worker."""

    class Meta:
        model = WhatsAppSession

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"session-{n}")
    engine = Engine.SANDBOX
    desired = Desired.RUN
    state = SessionState.PENDING
