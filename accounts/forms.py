from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import Role, Scope


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100)


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Full name")


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DeleteWorkspaceForm(forms.Form):
    confirm_name = forms.CharField(label="Type the workspace's name to confirm")


class APIKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where this key is used, e.g. 'CRM production'.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.SESSIONS_READ, Scope.MESSAGES_SEND]
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires (optional, UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean_expires_at(self) -> object:
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value
