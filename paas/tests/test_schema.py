from __future__ import annotations

import pytest
import yaml
from django.test import Client
from openapi_spec_validator import validate


@pytest.mark.django_db
def test_the_schema_is_valid_openapi_3_and_describes_the_api(client: Client) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/whoami" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sb_live_…",
        "description": "A workspace API key, created in the portal under API keys.",
    }


@pytest.mark.django_db
def test_the_schema_documents_the_error_shape_for_every_operation(client: Client) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], f"{method.upper()} {path} does not document 401"
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_webhook_actions_are_described_as_they_answer(client: Client) -> None:
    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    rotate = paths["/api/v1/webhooks/{id}/rotate-secret"]["post"]
    test = paths["/api/v1/webhooks/{id}/test"]["post"]
    replay = paths["/api/v1/webhooks/{id}/replay"]["post"]

    assert "requestBody" not in rotate
    assert "requestBody" not in test
    assert replay["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ReplayRequest")
    assert rotate["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/WebhookEndpoint")
    assert test["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/Delivery")
