"""Run in a child process with the benchmark's settings: create the workspace, an API key with every scope and a
worker enrollment token through the application's own services, and print them as one JSON line.

    DJANGO_SETTINGS_MODULE=paas.settings DATABASE_URL=… python -m bench.seed
"""

from __future__ import annotations

import json


def main() -> None:
    import django

    django.setup()

    from accounts.models import Scope, Workspace
    from accounts.services.api_keys import api_key_create
    from workers_app.services.enrollment import enrollment_token_create

    workspace = Workspace.objects.create(name="Benchmark")
    key = api_key_create(workspace=workspace, name="bench", scopes=list(Scope.values), created_by=None)
    token = enrollment_token_create(name="bench")
    print(json.dumps({"workspace": str(workspace.pk), "api_key": key.raw_key, "enrollment_token": token.raw}))


if __name__ == "__main__":
    main()
