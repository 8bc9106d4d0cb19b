"""The gateway's ASGI app: Django (portal, admin, REST API) over HTTP and Channels consumers under /ws/."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")

from paas.asgi_handler import freeze_startup_objects, get_asgi_application

# Django must be set up before the routing modules import models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from paas.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Each route brings its own authentication (portal cookie, or API key) and origin policy.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
freeze_startup_objects()
