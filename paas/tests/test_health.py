from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.fixtures.services import free_port
from worker_node.contract.storage import s3_storage


def test_healthz_answers_without_touching_dependencies(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_every_dependency_up(client: Client) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["down"] == []
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "object_store"}


@pytest.mark.django_db(transaction=True)
def test_readyz_names_an_object_store_that_is_down(client: Client) -> None:
    dead = s3_storage(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        bucket="nope",
        access_key="x",
        secret_key="y",
        region="us-east-1",
    )
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, "default": dead}):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["object_store"]
    assert "error" in body["checks"]["object_store"]


@pytest.mark.django_db(transaction=True)
def test_readyz_names_a_missing_bucket(client: Client, s3_server) -> None:
    from django.conf import settings

    missing = s3_storage(
        endpoint_url=s3_server.endpoint_url, bucket="no-such-bucket", access_key="t", secret_key="t", region="us-east-1"
    )
    with override_settings(STORAGES={**settings.STORAGES, "default": missing}):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["object_store"]
