from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sessions_app.models import SessionState
from workers_app.models import Engine


class RegisterSerializer(serializers.Serializer[Any]):
    enrollment_token = serializers.CharField(required=False, allow_blank=True, max_length=200)
    name = serializers.CharField(max_length=100)
    advertise_url = serializers.URLField(max_length=200)
    engine = serializers.ChoiceField(choices=Engine.choices)
    capacity = serializers.IntegerField(min_value=1, max_value=100_000)
    version = serializers.CharField(max_length=50, allow_blank=True, default="")


class RunningSessionSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    epoch = serializers.IntegerField(min_value=0)
    state = serializers.ChoiceField(choices=SessionState.choices)


class HeartbeatSerializer(serializers.Serializer[Any]):
    load = serializers.IntegerField(min_value=0, max_value=2**31 - 1)  # what Worker.load holds; more was a 500
    sessions = RunningSessionSerializer(many=True, max_length=100_000)  # type: ignore[call-arg]
    stored = serializers.ListField(child=serializers.UUIDField(), max_length=100_000, default=list)


class EventSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    session_id = serializers.UUIDField()
    epoch = serializers.IntegerField(min_value=0)
    type = serializers.RegexField(r"^[a-z_]+(\.[a-z_]+)+$", max_length=50)
    occurred_at = serializers.DateTimeField()
    data = serializers.DictField(default=dict)  # type: ignore[assignment]  # the field, as the wire names it


class EventBatchSerializer(serializers.Serializer[Any]):
    events = EventSerializer(many=True, allow_empty=False, max_length=1000)  # type: ignore[call-arg]
