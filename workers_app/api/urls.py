from django.urls import path

from workers_app.api import views

urlpatterns = [
    path("workers/register", views.RegisterView.as_view(), name="internal-register"),
    path("workers/shutdown", views.ShutdownView.as_view(), name="internal-shutdown"),
    path("heartbeat", views.HeartbeatView.as_view(), name="internal-heartbeat"),
    path("events", views.EventsView.as_view(), name="internal-events"),
]
