"""Portal: the overview, switching and creating workspaces, workspace settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.decorators.http import require_POST

from accounts.forms import DeleteWorkspaceForm, WorkspaceForm
from accounts.middleware import SESSION_KEY
from accounts.mixins import WorkspaceMemberMixin, flash_service_error
from accounts.models import Role
from accounts.selectors import api_key_list, member_list, membership_get, membership_list_for_user
from accounts.services.workspaces import workspace_create, workspace_delete, workspace_rename
from paas.api.errors import APIError


class DashboardView(WorkspaceMemberMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        context: dict[str, Any] = {
            "membership": self.membership,
            "member_count": member_list(workspace=self.workspace).count(),
            "active_key_count": api_key_list(workspace=self.workspace).active().count(),
            "memberships": membership_list_for_user(user=request.user),  # type: ignore[arg-type]
        }
        return render(request, "accounts/dashboard.html", context)


@login_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    membership = membership_get(user=request.user, workspace_id=request.POST.get("workspace_id", ""))  # type: ignore[arg-type]
    if membership is None:
        messages.error(request, "You are not a member of that workspace.")
    else:
        request.session[SESSION_KEY] = str(membership.workspace_id)
        messages.success(request, f"Switched to {membership.workspace.name}.")
    return redirect("dashboard")


@login_required
def workspace_create_view(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = workspace_create(owner=request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
        request.session[SESSION_KEY] = str(workspace.pk)
        messages.success(request, f"Created {workspace.name}.")
        return redirect("dashboard")
    return render(request, "accounts/workspace_create.html", {"form": form})


class WorkspaceSettingsView(WorkspaceMemberMixin, View):
    edit_role = Role.ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(WorkspaceForm(initial={"name": self.workspace.name}), DeleteWorkspaceForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if "delete" in request.POST:
            return self._delete(request)
        form = WorkspaceForm(request.POST)
        if not form.is_valid():
            return self._render(form, DeleteWorkspaceForm(), status=400)
        workspace_rename(workspace=self.workspace, name=form.cleaned_data["name"])
        messages.success(request, "Workspace renamed.")
        return redirect("workspace_settings")

    def _delete(self, request: HttpRequest) -> HttpResponse:
        form = DeleteWorkspaceForm(request.POST)
        if form.is_valid() and form.cleaned_data["confirm_name"] != self.workspace.name:
            form.add_error("confirm_name", "That is not this workspace's name.")
        if not form.is_valid():
            return self._render(WorkspaceForm(initial={"name": self.workspace.name}), form, status=400)
        name = self.workspace.name
        try:
            workspace_delete(workspace=self.workspace, actor=self.membership)
        except APIError as error:
            flash_service_error(request, error)
            return redirect("workspace_settings")
        request.session.pop(SESSION_KEY, None)
        messages.success(request, f"Deleted {name} and everything in it.")
        return redirect("dashboard")

    def _render(self, form: WorkspaceForm, delete_form: DeleteWorkspaceForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "delete_form": delete_form, "membership": self.membership}
        return render(self.request, "accounts/workspace_settings.html", context, status=status)
