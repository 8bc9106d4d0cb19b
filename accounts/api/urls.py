from django.urls import path

from accounts.api import views

urlpatterns = [
    path("whoami", views.WhoAmIView.as_view(), name="api-whoami"),
    path("api-keys", views.APIKeyListCreateView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:pk>", views.APIKeyDetailView.as_view(), name="api-key-detail"),
]
