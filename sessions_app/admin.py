from __future__ import annotations

from django.contrib import admin

from sessions_app.models import SessionAssignment, SessionEvent, WhatsAppSession


@admin.register(WhatsAppSession)
class WhatsAppSessionAdmin(admin.ModelAdmin[WhatsAppSession]):
    list_display = ["name", "workspace", "engine", "state", "worker", "epoch", "phone", "state_changed_at"]
    list_filter = ["state", "engine", "desired"]
    search_fields = ["name", "id", "phone", "workspace__name"]
    readonly_fields = [f.name for f in WhatsAppSession._meta.fields if f.name != "name"]
    exclude = ["qr_code"]


@admin.register(SessionEvent)
class SessionEventAdmin(admin.ModelAdmin[SessionEvent]):
    list_display = ["type", "session", "epoch", "occurred_at", "received_at"]
    list_filter = ["type"]
    search_fields = ["id", "session__id"]
    readonly_fields = ["id", "session", "workspace", "epoch", "type", "data", "occurred_at", "received_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(SessionAssignment)
class SessionAssignmentAdmin(admin.ModelAdmin[SessionAssignment]):
    """Which worker held which session under which epoch: what ingest checks a worker's late events against."""

    list_display = ["session", "epoch", "worker", "assigned_at"]
    list_filter = ["worker"]
    search_fields = ["session__id", "session__name", "worker__name"]
    readonly_fields = ["session", "worker", "epoch", "assigned_at"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
