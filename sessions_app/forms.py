from __future__ import annotations

from django import forms
from django.conf import settings

from sessions_app.models import PairingMethod


class SessionForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="For you, e.g. 'Support line'.")
    engine = forms.ChoiceField(choices=())
    pairing_method = forms.ChoiceField(choices=PairingMethod.choices, initial=PairingMethod.QR, label="Link with")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        labels = {"sandbox": "Sandbox (no phone needed)", "neonize": "WhatsApp"}
        self.fields["engine"].choices = [(e, labels.get(e, e)) for e in settings.SESSION_ENGINES]  # type: ignore[attr-defined]


class PairingPhoneForm(forms.Form):
    phone = forms.CharField(max_length=32, label="Phone number with country code", help_text="e.g. +4915112345678")
