"""Throttles that read their rates when a request comes in, not when the module is imported.

DRF's ``SimpleRateThrottle`` binds ``THROTTLE_RATES`` at import time, so ``override_settings`` (and a
deployment that reloads settings) would not change them. Ticket issuance gets its own, stricter scope:
each ticket is a credential, and a client needs one per connection, not hundreds.

Counts live in Django's default cache; production should point CACHES at Redis so every process shares
them (with the local-memory default each process counts on its own).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle


class _LiveRates:
    scope: str | None

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"REST_FRAMEWORK DEFAULT_THROTTLE_RATES has no rate for {self.scope!r}")
        return rates[self.scope]


class ApiAnonThrottle(_LiveRates, AnonRateThrottle):
    pass


class ApiUserThrottle(_LiveRates, UserRateThrottle):
    pass


class TicketThrottle(_LiveRates, ScopedRateThrottle):
    """Scoped throttle: views opt in with ``throttle_scope = "ws_ticket"``, counted per user."""
