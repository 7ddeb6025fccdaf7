"""Bearer API keys per channel, and a rate limit per key."""

import hashlib
import threading
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache as default_cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from connections.models import ChannelApiKey
from connections.services.api_keys import channel_api_key_check

# Valid keys, by the SHA-256 of the presented key, kept per process for
# `OMS_INTAKE_CHANNEL_CACHE_SECONDS` (as the webhooks keep channels): a
# revoked key or deactivated channel is refused at most that long after.
_keys: dict[str, tuple[float, ChannelApiKey]] = {}
_keys_lock = threading.Lock()


def api_keys_forget() -> None:
    """Forget the keys this process keeps (a test starts afresh)."""
    with _keys_lock:
        _keys.clear()


def api_keys_kept() -> set[str]:
    """The digests of the keys this process keeps now (never a key itself)."""
    return set(_keys)


def api_key_valid(key: str) -> ChannelApiKey | None:
    """The active key row a presented key belongs to, kept per process."""
    keep = settings.OMS_INTAKE_CHANNEL_CACHE_SECONDS
    if keep <= 0:
        return channel_api_key_check(key)
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    cached = _keys.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    api_key = channel_api_key_check(key)
    with _keys_lock:
        if api_key is None:
            _keys.pop(digest, None)  # unknown keys are not kept: no growth
        else:
            if len(_keys) > 1000:
                _keys.clear()
            _keys[digest] = (now + keep, api_key)
    return api_key


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
        api_key = api_key_valid(key.strip())
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
    cache = default_cache
    cache_format = "throttle_%(scope)s_count_%(ident)s"  # an int, not a list

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ChannelApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    def allow_request(self, request, view) -> bool:
        """Count the request in a window that opens with the key's first
        request: one cache operation (an increment) per request, not a read
        and a write of a list of times."""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            count = self.cache.incr(self.key)
        except ValueError:  # no window open: open one
            if self.cache.add(self.key, 1, self.duration):
                return True
            try:
                count = self.cache.incr(self.key)
            except ValueError:  # closed again in between
                return True
        return count <= self.num_requests

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
            "description": "A channel's API key: `manage.py channel_api_key CODE`.",
        }
