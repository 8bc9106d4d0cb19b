from django.urls import path

from sessions_app.api import views

urlpatterns = [
    path("sessions", views.SessionListCreateView.as_view(), name="api-session-list"),
    path("sessions/<uuid:pk>", views.SessionDetailView.as_view(), name="api-session-detail"),
    *[
        path(
            f"sessions/<uuid:pk>/{name}", views.SessionActionView.as_view(action_name=name), name=f"api-session-{name}"
        )
        for name in ("start", "stop", "restart", "logout")
    ],
    path("sessions/<uuid:pk>/qr", views.SessionQRView.as_view(image_format="json"), name="api-session-qr"),
    path("sessions/<uuid:pk>/qr.png", views.SessionQRView.as_view(image_format="png"), name="api-session-qr-png"),
    path("sessions/<uuid:pk>/qr.svg", views.SessionQRView.as_view(image_format="svg"), name="api-session-qr-svg"),
    path("sessions/<uuid:pk>/pairing-code", views.PairingCodeView.as_view(), name="api-session-pairing-code"),
    path("sessions/<uuid:pk>/sandbox/scan", views.SandboxScanView.as_view(), name="api-session-sandbox-scan"),
]
