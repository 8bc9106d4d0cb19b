from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User


@pytest.mark.django_db
def test_the_operator_console_is_branded_and_lists_the_pool(client: Client) -> None:
    operator = User.objects.create_superuser(email="ops@switchboard.test", password="x")
    client.force_login(operator)
    page = client.get("/admin/").content.decode()
    assert "Switchboard operations" in page
    for model in ("Workers", "Enrollment tokens", "WhatsApp sessions", "Workspaces", "API keys"):
        assert model.lower() in page.lower(), model


@pytest.mark.django_db
def test_customers_cannot_enter_the_operator_console(client: Client) -> None:
    customer = User.objects.create_user(email="customer@example.test", password="x")
    client.force_login(customer)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
