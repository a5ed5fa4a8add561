"""Tracking codes: what a reporter is told, to follow and rate a case without an account.

Only a hash of the code is stored, taken after normalising what people type (upper case, no
separators). Demo cases get reproducible codes (an HMAC of their external id), so the codes the
README prints for the demo data work on every fresh ``make run``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_tracking_code() -> str:
    """12 characters from an alphabet without look-alikes (60 bits): ``K7P4-9XQ2-MC3H``."""
    raw = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def demo_tracking_code(secret: str, external_id: str) -> str:
    """A reproducible code for demo cases (so a demo can be tracked from the printed samples)."""
    digest = hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).digest()
    raw = "".join(TRACKING_ALPHABET[b % 32] for b in digest[:12])
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_tracking_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def tracking_hash(code: str) -> str:
    return hashlib.sha256(normalise_tracking_code(code).encode()).hexdigest()
