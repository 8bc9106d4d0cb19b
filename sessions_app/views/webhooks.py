"""Portal: webhook endpoints, their secrets, the delivery log, test events and replays (admins and owners)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from accounts.mixins import WorkspaceMemberMixin, flash_service_error
from accounts.models import Role
from paas.api.errors import APIError
from paas.no_store import no_store
from sessions_app.models import Delivery, EventType, WebhookEndpoint
from sessions_app.services.webhooks.deliveries import delivery_replay, failed_since
from sessions_app.services.webhooks.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)


class EndpointForm(forms.Form):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        label="URL",
        help_text="Must be reachable on the public internet (https).",
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )  # fmt: skip


class WebhookListView(WorkspaceMemberMixin, View):
    view_role = Role.ADMIN
    edit_role = Role.ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(EndpointForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        try:
            endpoint = endpoint_create(workspace=self.workspace, **form.cleaned_data)
        except APIError as error:
            form.add_error("url", str(error.detail))
            return self._render(form, status=400)
        messages.success(request, "Endpoint added. Its signing secret is below.")
        return redirect("webhook_detail", pk=endpoint.pk)

    def _render(self, form: EndpointForm, status: int = 200) -> HttpResponse:
        endpoints = self.scoped(WebhookEndpoint.objects.all())
        return render(self.request, "sessions_app/webhooks.html", {"endpoints": endpoints, "form": form}, status=status)


@no_store  # shows the signing secret
class WebhookDetailView(WorkspaceMemberMixin, View):
    view_role = Role.ADMIN
    edit_role = Role.ADMIN

    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        endpoint = get_object_or_404(self.scoped(WebhookEndpoint.objects.all()), pk=pk)
        deliveries = (
            Delivery.objects.filter(endpoint=endpoint).select_related("event").prefetch_related("attempts")[:50]
        )
        context = {"endpoint": endpoint, "deliveries": deliveries, "now": timezone.now()}
        return render(request, "sessions_app/webhook_detail.html", context)

    def post(self, request: HttpRequest, pk: str) -> HttpResponse:
        endpoint = get_object_or_404(self.scoped(WebhookEndpoint.objects.all()), pk=pk)
        action = request.POST.get("action")
        try:
            if action == "rotate":
                endpoint_rotate_secret(endpoint=endpoint)
                messages.success(request, "New secret issued. The old one keeps signing for 24 hours.")
            elif action == "test":
                endpoint_send_test(endpoint=endpoint)
                messages.success(request, "Test event queued; it appears in the log below.")
            elif action in ("enable", "disable"):
                endpoint_update(endpoint=endpoint, enabled=action == "enable")
            elif action == "replay_failed":
                since = timezone.now() - timedelta(days=1)
                count = delivery_replay(deliveries=failed_since(endpoint=endpoint, since=since))
                messages.success(request, f"Replaying {count} failed deliveries.")
            elif action == "replay":
                # A malformed id is no delivery of this endpoint: 404, as an unknown one.
                delivery = get_object_or_404(
                    Delivery.objects.filter(endpoint=endpoint), pk=_uuid_or_none(request.POST.get("delivery", ""))
                )
                delivery_replay(deliveries=Delivery.objects.filter(pk=delivery.pk))
                messages.success(request, "Delivery queued again.")
            elif action == "delete":
                endpoint_delete(endpoint=endpoint)
                messages.success(request, "Endpoint deleted.")
                return redirect("webhook_list")
            else:
                raise Http404
        except APIError as error:
            flash_service_error(request, error)
        return redirect("webhook_detail", pk=endpoint.pk)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
