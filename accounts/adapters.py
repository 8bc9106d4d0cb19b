"""allauth customisation through its adapter, not by copying its views."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from accounts.services.signup import PENDING_INVITATION_KEY, user_signed_up


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            user_signed_up(request=request, user=user)
        return user

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        # An existing user who opened an invitation link comes back to it after signing in.
        token = request.session.get(PENDING_INVITATION_KEY)
        if token:
            return reverse("invitation_accept", args=[token])
        url: str = super().get_login_redirect_url(request)
        return url
