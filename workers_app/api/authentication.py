"""Authentication of workers on /internal/v1/: ``Authorization: Bearer sbw_…``, the token issued at registration."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from paas.api.errors import APIError
from workers_app.models import Worker
from workers_app.services.enrollment import worker_authenticate


class WorkerPrincipal:
    is_authenticated = True
    is_anonymous = False

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.pk = worker.pk


class WorkerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            raise AuthenticationFailed("Use 'Authorization: Bearer <worker token>'.", code="malformed_worker_token")
        try:
            worker = worker_authenticate(parts[1].decode("ascii"))
        except UnicodeDecodeError:
            raise AuthenticationFailed("The worker token is malformed.", code="malformed_worker_token")
        except APIError as error:
            raise AuthenticationFailed(str(error.detail), code=error.error_code)
        return WorkerPrincipal(worker), worker

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="workers"'
