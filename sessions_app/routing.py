from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from sessions_app.consumers import PortalConsumer
from sessions_app.stream import EventStreamConsumer

websocket_urlpatterns = [
    # Cookie-authenticated, so only pages of our own origin may open it.
    path("ws/v1/portal", AllowedHostsOriginValidator(AuthMiddlewareStack(PortalConsumer.as_asgi()))),
    # API-key authenticated and meant for servers too, so no Origin check (a browser cannot send the key by cookie).
    path("ws/v1/events", EventStreamConsumer.as_asgi()),
]
