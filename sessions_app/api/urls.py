from django.urls import path

from sessions_app.api import message_views, views, webhook_views

urlpatterns = [
    path("sessions", views.SessionListCreateView.as_view(), name="api-session-list"),
    path("sessions/<uuid:pk>", views.SessionDetailView.as_view(), name="api-session-detail"),
    *[
        path(f"sessions/<uuid:pk>/{view.action_name}", view.as_view(), name=f"api-session-{view.action_name}")
        for view in (views.SessionStartView, views.SessionStopView, views.SessionRestartView, views.SessionLogoutView)
    ],
    path("sessions/<uuid:pk>/qr", views.SessionQRView.as_view(), name="api-session-qr"),
    path("sessions/<uuid:pk>/qr.png", views.SessionQRPNGView.as_view(), name="api-session-qr-png"),
    path("sessions/<uuid:pk>/qr.svg", views.SessionQRSVGView.as_view(), name="api-session-qr-svg"),
    path("sessions/<uuid:pk>/pairing-code", views.PairingCodeView.as_view(), name="api-session-pairing-code"),
    path("sessions/<uuid:pk>/sandbox/scan", views.SandboxScanView.as_view(), name="api-session-sandbox-scan"),
    path("sessions/<uuid:pk>/messages", message_views.SessionMessagesView.as_view(), name="api-session-messages"),
    path("sessions/<uuid:pk>/messages/read", message_views.MarkReadView.as_view(), name="api-session-mark-read"),
    path("sessions/<uuid:pk>/chats", message_views.ChatListView.as_view(), name="api-session-chats"),
    path("sessions/<uuid:pk>/contacts/check", message_views.CheckNumbersView.as_view(), name="api-session-check"),
    path("sessions/<uuid:pk>/presence", message_views.PresenceView.as_view(), name="api-session-presence"),
    path("messages/<uuid:pk>", message_views.MessageDetailView.as_view(), name="api-message-detail"),
    path("messages/<uuid:pk>/media", message_views.MessageMediaView.as_view(), name="api-message-media"),
    path("webhooks", webhook_views.WebhookListCreateView.as_view(), name="api-webhook-list"),
    path("webhooks/<uuid:pk>", webhook_views.WebhookDetailView.as_view(), name="api-webhook-detail"),
    path(
        "webhooks/<uuid:pk>/rotate-secret",
        webhook_views.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path("webhooks/<uuid:pk>/test", webhook_views.WebhookSendTestView.as_view(), name="api-webhook-test"),
    path("webhooks/<uuid:pk>/replay", webhook_views.WebhookReplayFailedView.as_view(), name="api-webhook-replay"),
    path(
        "webhooks/<uuid:pk>/deliveries", webhook_views.EndpointDeliveryListView.as_view(), name="api-webhook-deliveries"
    ),
    path("deliveries", webhook_views.DeliveryListView.as_view(), name="api-delivery-list"),
    path("deliveries/<uuid:pk>", webhook_views.DeliveryDetailView.as_view(), name="api-delivery-detail"),
    path("deliveries/<uuid:pk>/replay", webhook_views.DeliveryReplayView.as_view(), name="api-delivery-replay"),
]
