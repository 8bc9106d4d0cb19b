"""What /api/schema/ says about the webhooks API: summaries, descriptions for customers, every answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema

from paas.schema import error
from sessions_app.api.webhook_serializers import (
    DeliverySerializer,
    ReplayedSerializer,
    ReplaySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)

_URL_REFUSED = error(
    "The request is not valid.",
    url_scheme_forbidden="the URL is not `http` or `https`",
    url_invalid="the URL has no host, or carries a user name or password",
    url_unresolvable="the host does not resolve",
    url_forbidden_address="the host resolves to an address that is not public",
)
_STATUS = OpenApiParameter(
    "status", str, description="Only deliveries in this status: `pending`, `succeeded` or `failed`."
)
_SIGNED = "Each endpoint carries its signing secret."

webhook_list = extend_schema(
    summary="List webhook endpoints",
    description=f"The workspace's webhook endpoints, newest first, a page at a time (follow `next`). {_SIGNED}",
)
webhook_create = extend_schema(
    summary="Create a webhook endpoint",
    description="A URL of yours that receives the workspace's events, signed with the endpoint's own secret (in "
    "the answer). `event_types` and `session_ids` narrow what it receives; empty or left out, it receives every "
    "event. The URL must be `http` or `https` on a public address.",
    request=WebhookEndpointWriteSerializer,
    responses={201: WebhookEndpointSerializer, 400: _URL_REFUSED},
)
webhook_retrieve = extend_schema(summary="Get a webhook endpoint", description=f"One webhook endpoint. {_SIGNED}")
webhook_update = extend_schema(
    summary="Update a webhook endpoint",
    description="Changes any of `url`, `description`, `event_types`, `session_ids` and `enabled`; lists are "
    "replaced as a whole and a new `url` is checked as on creation. `enabled: true` switches a disabled endpoint "
    "on again and clears `disabled_reason` and `failing_since`.",
    request=WebhookEndpointWriteSerializer,
    responses={200: WebhookEndpointSerializer, 400: _URL_REFUSED},
)
webhook_delete = extend_schema(
    summary="Delete a webhook endpoint",
    description="Deletes the endpoint with its deliveries and their log; nothing more is sent to it.",
)
webhook_rotate_secret = extend_schema(
    summary="Rotate an endpoint's secret",
    description="Gives the endpoint a new signing secret (in the answer). For 24 hours deliveries are signed with "
    "both the new and the previous secret (`previous_secret_expires_at`), so receivers can switch without losing "
    "events.",
    request=None,
    responses=WebhookEndpointSerializer,
)
webhook_test = extend_schema(
    summary="Send a test event",
    description="Sends the endpoint a `webhook.test` event, whatever its filters, signed, retried and logged like "
    "any other. The answer is the new delivery: follow it with GET /deliveries/{id}.",
    request=None,
    responses={202: DeliverySerializer},
)
webhook_replay = extend_schema(
    summary="Replay an endpoint's failed deliveries",
    description="Sends again, as new deliveries with a fresh schedule of attempts, every delivery of this endpoint "
    "that failed and was created at or after `since`. They carry the same `webhook-id`, so a receiver that "
    "deduplicates handles each event once.",
    request=ReplaySerializer,
    responses={202: ReplayedSerializer},
)
endpoint_delivery_list = extend_schema(
    summary="List an endpoint's deliveries",
    description="The deliveries of one endpoint, newest first, each with every attempt made: the event as sent, "
    "status, status codes and errors.",
    parameters=[_STATUS],
)
delivery_list = extend_schema(
    summary="List deliveries",
    description="The deliveries of every endpoint of the workspace, newest first, each with every attempt made.",
    parameters=[_STATUS],
)
delivery_retrieve = extend_schema(
    summary="Get a delivery", description="One delivery: the event as sent, its status and every attempt."
)
delivery_replay = extend_schema(
    summary="Replay a delivery",
    description="Sends the delivery's event again, whatever its status, as a new delivery to the same endpoint with "
    "a fresh schedule of attempts and the same `webhook-id`.",
    request=None,
    responses={202: ReplayedSerializer},
)
