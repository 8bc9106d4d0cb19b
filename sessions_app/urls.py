from django.urls import path

from sessions_app import views, webhook_portal

urlpatterns = [
    path("sessions/", views.SessionListView.as_view(), name="session_list"),
    path("sessions/<uuid:pk>/", views.SessionDetailView.as_view(), name="session_detail"),
    path("sessions/<uuid:pk>/qr.svg", views.SessionQRView.as_view(), name="session_qr"),
    path("sessions/<uuid:pk>/<slug:action>/", views.SessionActionView.as_view(), name="session_action"),
    path("workspace/webhooks/", webhook_portal.WebhookListView.as_view(), name="webhook_list"),
    path("workspace/webhooks/<uuid:pk>/", webhook_portal.WebhookDetailView.as_view(), name="webhook_detail"),
]
