"""Create the demo operator account that `make run` signs you in with, printing its password once."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.services.workspaces import workspace_create


class Command(BaseCommand):
    help = "Create the demo operator (staff, superuser, verified e-mail, one workspace) unless it exists."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="operator@switchboard.local")

    @transaction.atomic
    def handle(self, *args: Any, email: str, **options: Any) -> None:
        if User.objects.filter(email=email).exists():
            self.stdout.write(
                f"Demo operator {email} exists (reset its password with: manage.py changepassword {email})."
            )
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(email=email, password=password, full_name="Demo Operator")
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        workspace_create(owner=user, name="Demo workspace")
        self.stdout.write(self.style.SUCCESS("Created the demo operator. Its password is shown only this once:"))
        self.stdout.write(f"    e-mail:   {email}\n    password: {password}")
