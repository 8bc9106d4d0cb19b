"""GET /sessions/{id}/qr, qr.png and qr.svg: the current QR code as JSON or an image, or 409 no_qr_code."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Workspace
from sessions_app.models import SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
CODE = "https://wa.me/settings/linked_devices#2@c2FtcGxl,bm9pc2U=,aWRlbnRpdHk=,YWR2,1"


def scanning(workspace: Workspace, code: str = CODE) -> WhatsAppSession:
    return SessionFactory.create(
        workspace=workspace,
        state=SessionState.SCAN_QR,
        qr_code=code,
        qr_expires_at=datetime(2030, 1, 1, 0, 0, 20, tzinfo=UTC),
    )


def test_the_json_variant_returns_the_stored_code_and_its_expiry(workspace: Workspace, client: APIClient) -> None:
    session = scanning(workspace)

    response = client.get(f"/api/v1/sessions/{session.pk}/qr")

    assert response.status_code == 200, response.content
    assert response.json()["code"] == CODE
    assert response.json()["expires_at"].startswith("2030-01-01T00:00:20")


def test_the_png_variant_is_a_png_image_of_the_code(workspace: Workspace, client: APIClient) -> None:
    session = scanning(workspace)

    response = client.get(f"/api/v1/sessions/{session.pk}/qr.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "no-store" in {part.strip() for part in response["Cache-Control"].split(",")}
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert image.width == image.height
    assert image.width >= 21 * 6  # the smallest QR symbol at the view's scale


def test_the_svg_variant_is_an_svg_image_of_the_code(workspace: Workspace, client: APIClient) -> None:
    session = scanning(workspace)

    response = client.get(f"/api/v1/sessions/{session.pk}/qr.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "no-store" in {part.strip() for part in response["Cache-Control"].split(",")}
    body = response.content.strip()
    assert body.startswith(b"<svg")
    assert body.endswith(b"</svg>")
    assert b'xmlns="http://www.w3.org/2000/svg"' in body


@pytest.mark.parametrize("suffix", ["qr.png", "qr.svg"])
def test_each_image_follows_the_stored_code(workspace: Workspace, client: APIClient, suffix: str) -> None:
    first = scanning(workspace, CODE)
    same = scanning(workspace, CODE)
    other = scanning(workspace, CODE.replace("c2FtcGxl", "b3RoZXI="))

    images = [client.get(f"/api/v1/sessions/{s.pk}/{suffix}").content for s in (first, same, other)]

    assert images[0] == images[1]
    assert images[0] != images[2]


@pytest.mark.parametrize("suffix", ["qr", "qr.png", "qr.svg"])
@pytest.mark.parametrize(
    "state", [SessionState.PENDING, SessionState.STARTING, SessionState.CONNECTED, SessionState.SCAN_QR]
)
def test_without_a_qr_code_there_is_nothing_to_scan(
    workspace: Workspace, client: APIClient, suffix: str, state: str
) -> None:
    session = SessionFactory.create(workspace=workspace, state=state, qr_code="")

    response = client.get(f"/api/v1/sessions/{session.pk}/{suffix}")

    error = assert_api_error(response, 409, "no_qr_code")
    assert state in error["message"]
