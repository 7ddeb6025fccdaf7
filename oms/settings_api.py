"""The order API's settings (Django REST framework and drf-spectacular),
imported by oms/settings.py."""

import os

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["connections.api.parsers.JsonBodyParser"],
    "UNAUTHENTICATED_USER": None,
    # Requests per API key (each key its own budget). The count lives in the
    # default cache: per process unless CACHES names a shared one.
    "DEFAULT_THROTTLE_RATES": {
        "api_key": os.environ.get("OMS_API_KEY_RATE", "600/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS order API",
    "DESCRIPTION": (
        "Send orders, read their status and shipments, cancel them, read stock. "
        "Authenticate with a channel's API key: `Authorization: Bearer <key>` "
        "(the channel's admin page makes one: Make an API key)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar, its start script a file of its
    # own (SpectacularSwaggerSplitView): the docs page runs under the policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge fetched from swagger.io: the schema's address stays here.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}
