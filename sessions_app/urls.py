from django.urls import path

from sessions_app.views import sessions, webhooks

urlpatterns = [
    path("sessions/", sessions.SessionListView.as_view(), name="session_list"),
    path("sessions/<uuid:pk>/", sessions.SessionDetailView.as_view(), name="session_detail"),
    path("sessions/<uuid:pk>/qr.svg", sessions.SessionQRView.as_view(), name="session_qr"),
    path("sessions/<uuid:pk>/<slug:action>/", sessions.SessionActionView.as_view(), name="session_action"),
    path("workspace/webhooks/", webhooks.WebhookListView.as_view(), name="webhook_list"),
    path("workspace/webhooks/<uuid:pk>/", webhooks.WebhookDetailView.as_view(), name="webhook_detail"),
]
