from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from sessions_app.consumers import PortalConsumer

websocket_urlpatterns = [
    # Cookie-authenticated, so only pages of our own origin may open it.
    path("ws/v1/portal", AllowedHostsOriginValidator(AuthMiddlewareStack(PortalConsumer.as_asgi()))),
]
