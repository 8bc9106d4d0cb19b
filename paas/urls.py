"""The gateway's URLs: portal, admin, REST API, probes. The worker API (/internal/v1/) joins with workers_app."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from paas import api_docs, health, metrics, views
from paas.api.errors import api_not_found

admin.site.site_header = "Switchboard operations"
admin.site.site_title = "Switchboard operations"
admin.site.index_title = "Operator console"

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("sessions_app.api.urls")),
]

urlpatterns = [
    path("favicon.ico", views.favicon),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.swagger_ui(), name="api-docs"),
    path("api/docs/redoc/", api_docs.redoc(), name="api-redoc"),
    path("api/v1/", include(api_v1)),
    path("internal/v1/", include("workers_app.api.urls")),
    re_path(r"^(api|internal)/", api_not_found),
    path("", include("sessions_app.urls")),
    path("", include("accounts.urls")),
]

handler400 = "paas.views.bad_request"
handler404 = "paas.views.page_not_found"
handler500 = "paas.views.server_error"
