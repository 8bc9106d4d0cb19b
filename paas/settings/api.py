"""The REST API's conventions: authentication, errors, pagination, throttling and the OpenAPI schema."""

from __future__ import annotations

from paas.env import env_int, env_str

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["paas.api.authentication.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["paas.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "paas.api.parsers.JSONParser",
        "paas.api.parsers.MultiPartParser",
        "paas.api.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "paas.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "paas.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "paas.schema.SwitchboardAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["paas.api.throttling.APIClientRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": (
        "Multi-tenant WhatsApp gateway. Authenticate with `Authorization: Bearer <API key>`. "
        'Every error has the shape `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

# Requests per API key (or per client address before authentication), counted in the cache.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")

# Resolves "Authorization: Bearer <key>" to (principal, key); the accounts app owns how keys are stored.
API_KEY_RESOLVER = "accounts.services.api_keys.api_key_resolve"

# The largest request body of an API call, in bytes. Sends (base64 media) and the worker API take up to
# DATA_UPLOAD_MAX_MEMORY_SIZE instead (paas/settings/workers.py); see paas/api/parsers.py.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

# How often a live socket (the event stream, the portal's live channel) checks again that the key or membership that
# opened it still holds. A revocation closes them at once; this is the bound when that message was lost.
LIVE_ACCESS_RECHECK_SECONDS = env_int("LIVE_ACCESS_RECHECK_SECONDS", 30, minimum=1, maximum=3600)
