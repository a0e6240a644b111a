"""The routing table: every area's routes, /v3 first, then the test-only /_sandbox API.

Example::

    from csframe.sandbox.urls import routes
    [r.path for r in routes][:2]    # ['/v3/account', '/v3/account/usage/{year}/{month}/subaccount']
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from csframe.sandbox.responses import (
    account,
    account_extras,
    admin,
    campaigns,
    collections,
    contacts,
    messages,
    messages_send,
    senders,
    sms,
    uploads,
)

AREAS = (
    account,
    sms,
    messages,
    messages_send,
    account_extras,
    collections,
    contacts,
    uploads,
    campaigns,
    senders,
)

routes: list[BaseRoute] = [route for area in AREAS for route in area.routes] + list(admin.routes)
# Generic collections give way to any area that serves the same path itself.
routes = collections.unshadowed(routes)
