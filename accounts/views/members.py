"""Portal: members, roles, invitations and leaving a workspace."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from accounts.forms import InvitationForm, RoleForm
from accounts.middleware import SESSION_KEY
from accounts.mixins import WorkspaceMemberMixin, flash_service_error
from accounts.models import Invitation, Membership, Role
from accounts.selectors import member_list, pending_invitation_list
from accounts.services.invitations import invitation_create, invitation_revoke
from accounts.services.workspaces import membership_change_role, membership_remove
from paas.api.errors import APIError


class MemberListView(WorkspaceMemberMixin, View):
    edit_role = Role.ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(InvitationForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = InvitationForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        try:
            invitation = invitation_create(
                workspace=self.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=self.membership,
            )
        except APIError as error:
            flash_service_error(request, error)
            return self._render(form, status=error.status_code)
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return redirect("member_list")

    def _render(self, form: InvitationForm, status: int = 200) -> HttpResponse:
        context = {
            "members": member_list(workspace=self.workspace),
            "invitations": pending_invitation_list(workspace=self.workspace),
            "form": form,
            "membership": self.membership,
            "roles": Role.choices,
        }
        return render(self.request, "accounts/members.html", context, status=status)


class MemberRoleView(WorkspaceMemberMixin, View):
    edit_role = Role.ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        target = get_object_or_404(self.scoped(Membership.objects.select_related("user")), pk=pk)
        form = RoleForm(request.POST)
        if form.is_valid():
            try:
                membership_change_role(membership=target, role=form.cleaned_data["role"], actor=self.membership)
                messages.success(request, f"{target.user.email} is now {target.get_role_display().lower()}.")
            except APIError as error:
                flash_service_error(request, error)
        return redirect("member_list")


class MemberRemoveView(WorkspaceMemberMixin, View):
    """Removing someone else needs admin; leaving (removing yourself) any member may do."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        target = get_object_or_404(self.scoped(Membership.objects.select_related("user")), pk=pk)
        leaving = target.pk == self.membership.pk
        try:
            membership_remove(membership=target, actor=self.membership)
        except APIError as error:
            flash_service_error(request, error)
            return redirect("member_list")
        if leaving:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, f"You left {self.workspace.name}.")
            return redirect("dashboard")
        messages.success(request, f"Removed {target.user.email}.")
        return redirect("member_list")


class InvitationRevokeView(WorkspaceMemberMixin, View):
    edit_role = Role.ADMIN

    def post(self, request: HttpRequest, pk: str) -> HttpResponse:
        invitation = get_object_or_404(self.scoped(Invitation.objects.all()), pk=pk)
        invitation_revoke(invitation=invitation)
        messages.success(request, f"Withdrew the invitation to {invitation.email}.")
        return redirect("member_list")
