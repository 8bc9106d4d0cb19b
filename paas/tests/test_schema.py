from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.test import Client
from openapi_spec_validator import validate

from sessions_app.api.message_serializers import MessageSendSerializer
from sessions_app.models import MessageType


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


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    return dict(yaml.safe_load(client.get("/api/schema/").content))


def operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{method.upper()} {path}", op) for path, ops in schema["paths"].items() for method, op in ops.items()]


@pytest.mark.django_db
def test_every_operation_has_a_summary_and_a_description_for_customers(schema: dict[str, Any]) -> None:
    for name, operation in operations(schema):
        assert operation.get("summary"), f"{name} has no summary"
        assert operation.get("description"), f"{name} has no description"
        assert "get_queryset" not in operation["description"], f"{name} describes itself with a docstring"
    assert len({op["summary"] for _, op in operations(schema)}) == len(operations(schema)), "summaries repeat"


@pytest.mark.django_db
def test_every_error_an_operation_documents_has_the_error_shape_and_its_codes(schema: dict[str, Any]) -> None:
    for name, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            assert "\n- `" in response["description"], f"{name} {status} lists no codes"
        if "{" in name:
            assert "404" in operation["responses"], f"{name} does not document 404"
        if not name.endswith("/whoami"):
            assert "`missing_scope`" in operation["responses"]["403"]["description"], name


@pytest.mark.django_db
def test_answers_are_documented_as_they_are_sent(schema: dict[str, Any]) -> None:
    paths = schema["paths"]

    def content(path: str, method: str, status: str) -> dict[str, Any]:
        return dict(paths[f"/api/v1{path}"][method]["responses"][status]["content"])

    assert "202" in paths["/api/v1/sessions/{id}/presence"]["post"]["responses"]
    assert content("/api-keys/{id}", "delete", "200")["application/json"]["schema"]["$ref"].endswith("/APIKey")
    assert set(content("/sessions/{id}/qr.png", "get", "200")) == {"image/png"}
    assert set(content("/sessions/{id}/qr.svg", "get", "200")) == {"image/svg+xml"}
    assert set(content("/messages/{id}/media", "get", "200")) == {"*/*"}
    assert content("/sessions/{id}/chats", "get", "200")["application/json"]["schema"]["$ref"].endswith("/ChatList")
    created_by = schema["components"]["schemas"]["APIKey"]["properties"]["created_by"]
    assert created_by["nullable"] is True
    for code in ("invalid_cursor", "invalid_page_size"):
        assert f"`{code}`" in paths["/api/v1/sessions"]["get"]["responses"]["400"]["description"]
    assert "`request_too_large`" in paths["/api/v1/sessions"]["post"]["responses"]["413"]["description"]
    # The query string is checked on every operation, even one that reads no parameter.
    assert "`too_many_fields`" in paths["/api/v1/sessions/{id}"]["get"]["responses"]["400"]["description"]
    assert "`scope_exceeds_key`" in paths["/api/v1/api-keys"]["post"]["responses"]["403"]["description"]
    assert "`scope_exceeds_key`" in paths["/api/v1/api-keys/{id}"]["delete"]["responses"]["403"]["description"]


@pytest.mark.django_db
def test_the_send_endpoint_has_an_example_of_every_message_type(schema: dict[str, Any]) -> None:
    send = schema["paths"]["/api/v1/sessions/{id}/messages"]["post"]
    examples = send["requestBody"]["content"]["application/json"]["examples"].values()
    types = {example["value"].get("type", "text") for example in examples}
    assert types == set(MessageType.values)
    for example in examples:
        assert MessageSendSerializer(data=example["value"]).is_valid(), example
