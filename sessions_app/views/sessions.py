"""Portal: the workspace's WhatsApp sessions, linking by QR or pairing code, with live status over WebSocket."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import segno
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from rest_framework.exceptions import ValidationError

from accounts.mixins import WorkspaceMemberMixin, flash_service_error
from paas.api.errors import APIError
from sessions_app.forms import PairingPhoneForm, SessionForm
from sessions_app.models import WhatsAppSession
from sessions_app.services.messages.recipients import normalize_phone
from sessions_app.services.sessions import lifecycle


class SessionListView(WorkspaceMemberMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(SessionForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SessionForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        session = lifecycle.session_create(workspace=self.workspace, **form.cleaned_data)
        messages.success(request, f"Created {session.name}. Link it below.")
        return redirect("session_detail", pk=session.pk)

    def _render(self, form: SessionForm, status: int = 200) -> HttpResponse:
        sessions = self.scoped(WhatsAppSession.objects.all())
        return render(self.request, "sessions_app/list.html", {"sessions": sessions, "form": form}, status=status)


class SessionDetailView(WorkspaceMemberMixin, View):
    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        session = get_object_or_404(self.scoped(WhatsAppSession.objects.all()), pk=pk)
        template = (
            "sessions_app/partials/panel.html" if request.headers.get("HX-Request") else "sessions_app/detail.html"
        )
        return render(request, template, {"session": session, "phone_form": PairingPhoneForm()})


ACTIONS: dict[str, Callable[..., Any]] = {
    "start": lifecycle.session_start,
    "stop": lifecycle.session_stop,
    "restart": lifecycle.session_restart,
    "logout": lifecycle.session_logout,
    "delete": lifecycle.session_delete,
}


class SessionActionView(WorkspaceMemberMixin, View):
    def post(self, request: HttpRequest, pk: str, action: str) -> HttpResponse:
        session = get_object_or_404(self.scoped(WhatsAppSession.objects.all()), pk=pk)
        try:
            if action == "pair":
                return self._pair(request, session)
            if action == "scan":
                lifecycle.sandbox_command(session=session, command="scan", payload={})
            elif action in ACTIONS:
                ACTIONS[action](session=session)
            else:
                raise Http404
        except APIError as error:
            flash_service_error(request, error)
        if action == "delete":
            messages.success(request, f"Deleted {session.name}.")
            return redirect("session_list")
        return redirect("session_detail", pk=session.pk)

    def _pair(self, request: HttpRequest, session: WhatsAppSession) -> HttpResponse:
        form = PairingPhoneForm(request.POST)
        if form.is_valid():
            try:
                phone = normalize_phone(form.cleaned_data["phone"])
            except ValidationError as error:
                messages.error(request, " ".join(str(d) for d in error.detail))
            else:
                code = lifecycle.session_request_pairing_code(session=session, phone=phone)
                messages.success(request, f"Enter {code} on the phone: Linked devices → Link with phone number.")
        return redirect("session_detail", pk=session.pk)


class SessionQRView(WorkspaceMemberMixin, View):
    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        session = get_object_or_404(self.scoped(WhatsAppSession.objects.all()), pk=pk)
        if not session.qr_code:
            raise Http404
        out = io.BytesIO()
        segno.make_qr(session.qr_code, error="l").save(out, kind="svg", scale=5, border=2, xmldecl=False)
        response = HttpResponse(out.getvalue(), content_type="image/svg+xml")
        response["Cache-Control"] = "no-store"
        return response
