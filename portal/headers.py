"""Security headers on every response.

The pages are server-rendered and load nothing from elsewhere: scripts and styles come from this
origin only, no page may be framed by another site (clickjacking), and browsers must not guess a
content type (an uploaded text file served as HTML).
"""

from __future__ import annotations

from typing import Any

from pyramid.events import NewResponse

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "img-src 'self' data:",
    # Server-drawn SVG maps and charts carry style attributes.
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


def add_security_headers(event: NewResponse) -> None:
    headers = event.response.headers
    for name, value in HEADERS.items():
        headers.setdefault(name, value)


def includeme(config: Any) -> None:
    config.add_subscriber(add_security_headers, NewResponse)
