"""Bearer API keys per channel, and a rate limit per key."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from connections.models import ChannelApiKey
from connections.services.api_keys import channel_api_key_check
from connections.sql import read_first
from core.cache import cache_count, cache_key


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
        # Read from the database on every request (one indexed query, what a
        # hit in the database cache would cost): a revoked key or a
        # deactivated channel is refused on the very next request. The read
        # stands in for the connection's health check (`read_first`).
        api_key = read_first(lambda: channel_api_key_check(key.strip()))
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "This API key is not valid (unknown, revoked, or its channel is "
                "inactive). Ask for a new one (the channel's page: Make an API key)."
            )
        return AnonymousUser(), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class HasChannelKey(permissions.BasePermission):
    message = "Send a channel's API key as `Authorization: Bearer <key>`."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ChannelApiKey)


def api_key_rate_key(api_key_id: int) -> str:
    """The shared cache's key counting an API key's requests."""
    return cache_key("api-key-rate", api_key_id)


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """At most `DEFAULT_THROTTLE_RATES["api_key"]` requests per key, counted
    in the shared cache: the limit holds across processes and machines."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ChannelApiKey):
            return None
        return api_key_rate_key(request.auth.pk)

    def allow_request(self, request, view) -> bool:
        """Count the request in a window that opens with the key's first
        request: one atomic count per request (`cache_count`), not a read and
        a write of a list of times."""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        return cache_count(self.key, window=self.duration) <= self.num_requests

    def wait(self) -> float | None:
        """The window's length: when it closes is not stored (one operation)."""
        return float(self.duration)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "connections.api.auth.ApiKeyAuthentication"
    name = "channelApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A channel's API key (its admin page: Make an API key).",
        }
