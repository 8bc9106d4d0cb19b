from django.urls import path

from accounts.views import api_keys, invitations, members, profile, workspaces

urlpatterns = [
    path("", workspaces.DashboardView.as_view(), name="dashboard"),
    path("profile/", profile.profile, name="profile"),
    path("workspaces/new/", workspaces.workspace_create_view, name="workspace_create"),
    path("workspaces/switch/", workspaces.workspace_switch, name="workspace_switch"),
    path("workspace/settings/", workspaces.WorkspaceSettingsView.as_view(), name="workspace_settings"),
    path("workspace/members/", members.MemberListView.as_view(), name="member_list"),
    path("workspace/members/<int:pk>/role/", members.MemberRoleView.as_view(), name="member_role"),
    path("workspace/members/<int:pk>/remove/", members.MemberRemoveView.as_view(), name="member_remove"),
    path("workspace/invitations/<uuid:pk>/revoke/", members.InvitationRevokeView.as_view(), name="invitation_revoke"),
    path("workspace/api-keys/", api_keys.APIKeyListView.as_view(), name="api_key_list"),
    path("workspace/api-keys/<uuid:pk>/revoke/", api_keys.APIKeyRevokeView.as_view(), name="api_key_revoke"),
    path("invitations/<str:token>/", invitations.invitation_accept_view, name="invitation_accept"),
]
