"""The webhooks API: endpoints, secret rotation, test events, the delivery log and replays."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Scope
from paas.api.scoping import WorkspaceScopedAPIMixin, request_workspace
from paas.no_store import no_store
from sessions_app.api import webhook_openapi as openapi
from sessions_app.api.webhook_serializers import (
    DeliverySerializer,
    ReplaySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)
from sessions_app.models import Delivery, WebhookEndpoint
from sessions_app.services.webhooks.deliveries import delivery_replay, failed_since
from sessions_app.services.webhooks.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)

MANAGE = {"*": Scope.WEBHOOKS_MANAGE}


@extend_schema_view(get=openapi.webhook_list)
@no_store  # every endpoint it shows carries its signing secret
class WebhookListCreateView(WorkspaceScopedAPIMixin, generics.ListAPIView[WebhookEndpoint]):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    required_scopes = MANAGE

    @openapi.webhook_create
    def post(self, request: Request) -> Response:
        form = WebhookEndpointWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = endpoint_create(workspace=request_workspace(request), **form.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=openapi.webhook_retrieve, delete=openapi.webhook_delete)
@no_store
class WebhookDetailView(WorkspaceScopedAPIMixin, generics.RetrieveDestroyAPIView[WebhookEndpoint]):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    required_scopes = MANAGE

    @openapi.webhook_update
    def patch(self, request: Request, pk: str) -> Response:
        form = WebhookEndpointWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=self.get_object(), **form.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        endpoint_delete(endpoint=instance)


class _EndpointActionView(WorkspaceScopedAPIMixin, generics.GenericAPIView[WebhookEndpoint]):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    required_scopes = MANAGE


@no_store
class WebhookRotateSecretView(_EndpointActionView):
    @openapi.webhook_rotate_secret
    def post(self, request: Request, pk: str) -> Response:
        endpoint = endpoint_rotate_secret(endpoint=self.get_object())
        return Response(WebhookEndpointSerializer(endpoint).data)


class WebhookSendTestView(_EndpointActionView):
    @openapi.webhook_test
    def post(self, request: Request, pk: str) -> Response:
        delivery = endpoint_send_test(endpoint=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookReplayFailedView(_EndpointActionView):
    @openapi.webhook_replay
    def post(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        form = ReplaySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        count = delivery_replay(deliveries=failed_since(endpoint=endpoint, since=form.validated_data["since"]))
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(get=openapi.delivery_list)
class DeliveryListView(WorkspaceScopedAPIMixin, generics.ListAPIView[Delivery]):
    queryset = Delivery.objects.select_related("event").prefetch_related("attempts")
    serializer_class = DeliverySerializer
    required_scopes = MANAGE

    def get_queryset(self) -> Any:
        deliveries = super().get_queryset()
        params = self.request.query_params
        if "pk" in self.kwargs:
            endpoints = WebhookEndpoint.objects.filter(workspace=request_workspace(self.request), pk=self.kwargs["pk"])
            if not endpoints.exists():
                raise NotFound()  # another workspace's endpoint: not found, never forbidden
            deliveries = deliveries.filter(endpoint_id=self.kwargs["pk"])
        if params.get("status"):
            deliveries = deliveries.filter(status=params["status"])
        return deliveries


@extend_schema_view(get=openapi.endpoint_delivery_list)
class EndpointDeliveryListView(DeliveryListView):
    """/webhooks/{id}/deliveries: get_queryset narrows the list to the endpoint of the path."""


@extend_schema_view(get=openapi.delivery_retrieve)
class DeliveryDetailView(WorkspaceScopedAPIMixin, generics.RetrieveAPIView[Delivery]):
    queryset = Delivery.objects.select_related("event").prefetch_related("attempts")
    serializer_class = DeliverySerializer
    required_scopes = MANAGE


class DeliveryReplayView(WorkspaceScopedAPIMixin, generics.GenericAPIView[Delivery]):
    queryset = Delivery.objects.all()
    serializer_class = DeliverySerializer
    required_scopes = MANAGE

    @openapi.delivery_replay
    def post(self, request: Request, pk: str) -> Response:
        delivery = self.get_object()
        delivery_replay(deliveries=Delivery.objects.filter(pk=delivery.pk))
        return Response({"replayed": 1}, status=status.HTTP_202_ACCEPTED)
