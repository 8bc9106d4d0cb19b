"""Portal: API keys. The full key appears once, in the response to the form that created it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from accounts.forms import APIKeyForm
from accounts.mixins import WorkspaceMemberMixin
from accounts.models import APIKey, Role
from accounts.selectors import api_key_list
from accounts.services.api_keys import IssuedKey, api_key_create, api_key_revoke
from paas.no_store import no_store


@no_store  # the answer to the form shows the new key
class APIKeyListView(WorkspaceMemberMixin, View):
    view_role = Role.ADMIN
    edit_role = Role.ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(APIKeyForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = APIKeyForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        issued = api_key_create(
            workspace=self.workspace,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=request.user,  # type: ignore[arg-type]
        )
        # Rendered, not redirected: the key must never sit in a session or a URL.
        return self._render(APIKeyForm(), issued=issued, status=201)

    def _render(self, form: APIKeyForm, issued: IssuedKey | None = None, status: int = 200) -> HttpResponse:
        context = {
            "keys": api_key_list(workspace=self.workspace),
            "form": form,
            "issued": issued,
            "now": timezone.now(),
        }
        return render(self.request, "accounts/api_keys.html", context, status=status)


class APIKeyRevokeView(WorkspaceMemberMixin, View):
    view_role = Role.ADMIN
    edit_role = Role.ADMIN

    def post(self, request: HttpRequest, pk: str) -> HttpResponse:
        api_key = get_object_or_404(self.scoped(APIKey.objects.all()), pk=pk)
        api_key_revoke(api_key=api_key)
        messages.success(request, f"Revoked {api_key.name} ({api_key.prefix}…). It is refused from now on.")
        return redirect("api_key_list")
