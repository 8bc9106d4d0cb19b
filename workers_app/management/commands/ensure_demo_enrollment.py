"""Create the enrollment token `make run`'s worker node uses, writing the secret to a file only its user can read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from worker_node.contract.tokens import ENROLLMENT_TOKEN
from workers_app.models import EnrollmentToken
from workers_app.services.enrollment import enrollment_token_create


class Command(BaseCommand):
    help = "Write a valid enrollment token to --file, creating one named 'demo' unless the file already holds one."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--file", required=True)

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        if path.exists():
            raw = path.read_text().strip()
            existing = EnrollmentToken.objects.filter(prefix=ENROLLMENT_TOKEN.public_prefix(raw)).first()
            if (
                existing is not None
                and existing.refusal() is None
                and ENROLLMENT_TOKEN.matches(raw, existing.token_hash)
            ):
                self.stdout.write(f"Demo enrollment token {existing.prefix}… is ready in {path}.")
                return
        issued = enrollment_token_create(name="demo (make run)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(issued.raw)
        self.stdout.write(f"Created demo enrollment token {issued.token.prefix}… in {path}.")
