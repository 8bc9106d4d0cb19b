"""The operators' console for the worker pool: workers (revoke, drain) and enrollment tokens (shown once)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from worker_node.contract.tokens import ENROLLMENT_TOKEN
from workers_app.models import EnrollmentToken, Worker, WorkerState
from workers_app.services.drain import worker_drain
from workers_app.services.enrollment import enrollment_token_revoke, worker_revoke


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin[Worker]):
    list_display = [
        "name", "engine", "state", "load", "capacity", "last_heartbeat_at", "events_refused", "version",
        "advertise_url",
    ]  # fmt: skip
    list_filter = ["state", "engine"]
    search_fields = ["name", "id", "advertise_url"]
    readonly_fields = [
        "id", "token_prefix", "enrolled_with", "registered_at", "last_heartbeat_at", "load", "version", "revoked_at",
        "draining_since", "events_refused",
        "engine", "advertise_url",
    ]  # fmt: skip
    fields = ["name", "capacity", "state", *readonly_fields]
    actions = ["revoke", "drain"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # workers join by enrolling with a token

    @admin.action(description="Revoke: refuse all of its calls and move its sessions elsewhere")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        for worker in queryset:
            worker_revoke(worker=worker)
        messages.success(request, f"Revoked {queryset.count()} worker(s).")

    @admin.action(description="Drain: move its sessions to other workers, each after a final snapshot")
    def drain(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        for worker in queryset.exclude(state=WorkerState.REVOKED):
            worker_drain(worker=worker)
        messages.success(
            request,
            "Its sessions move to the other workers over its next heartbeats, each after a final snapshot (while no "
            "other worker can take them, it keeps running them); new sessions avoid drained workers.",
        )


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin[EnrollmentToken]):
    list_display = ["name", "prefix", "created_at", "expires_at", "uses", "max_uses", "revoked_at"]
    fields = ["name", "expires_at", "max_uses", "prefix", "uses", "revoked_at", "created_by"]
    readonly_fields = ["prefix", "uses", "revoked_at", "created_by"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: EnrollmentToken, form: Any, change: bool) -> None:
        if not change:
            issued = ENROLLMENT_TOKEN.issue()
            obj.prefix, obj.token_hash, obj.created_by = issued.prefix, issued.hash, request.user  # type: ignore[assignment]
            obj._raw_token = issued.raw  # type: ignore[attr-defined]  # shown once by response_add, never stored
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: EnrollmentToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        raw = obj._raw_token  # type: ignore[attr-defined]
        context = {**self.admin_site.each_context(request), "token": obj, "raw": raw, "opts": self.opts}
        return render(request, "admin/workers_app/enrollment_token_created.html", context)

    @admin.action(description="Revoke: no further workers may enroll with it")
    def revoke(self, request: HttpRequest, queryset: QuerySet[EnrollmentToken]) -> None:
        for token in queryset.filter(revoked_at__isnull=True):
            enrollment_token_revoke(token=token)
        messages.success(request, f"Revoked at {timezone.now():%H:%M:%S} UTC.")
