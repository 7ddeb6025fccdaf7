"""Bearer API keys per channel, and a rate limit per key."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from orders.models import ChannelApiKey
from orders.services.api_keys import channel_api_key_check


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer oms_…`: the request acts for the key's channel."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed(
                "Send the key as `Authorization: Bearer <key>`."
            )
        api_key = channel_api_key_check(key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "This API key is not valid (unknown, revoked, or its channel is "
                "inactive). Ask for a new one: manage.py channel_api_key CODE."
            )
        return AnonymousUser(), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class HasChannelKey(permissions.BasePermission):
    message = "Send a channel's API key as `Authorization: Bearer <key>`."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ChannelApiKey)


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """At most `DEFAULT_THROTTLE_RATES["api_key"]` requests per key."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ChannelApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "oms.api.auth.ApiKeyAuthentication"
    name = "channelApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A channel's API key: `manage.py channel_api_key CODE`.",
        }
