"""Standard Webhooks signing and verification (https://www.standardwebhooks.com).

Herald signs every provider call with these headers (DESIGN §6) and the simulator verifies
them. A secret is ``whsec_`` followed by the base64 of the HMAC key; the signature is
``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``. Pure functions,
no I/O: activities and the simulator call them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator, Mapping

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "ID_HEADER",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "InvalidSignature",
    "decode_secret",
    "generate_secret",
    "sign",
    "verify",
]

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 300
"""How far a timestamp may be from now, either way (the spec's five minutes)."""

_SECRET_BYTES = 32
_VERSION = "v1"


class InvalidSignature(ValueError):
    """The headers do not prove that the body was signed with the secret, now."""


def generate_secret() -> str:
    """A fresh ``whsec_<base64 of 32 random bytes>`` secret."""
    return SECRET_PREFIX + _b64encode(secrets.token_bytes(_SECRET_BYTES))


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix may be left out).

    Raises a plain :class:`ValueError` (a configuration error, not an
    :class:`InvalidSignature`) if the secret is not base64 or is empty.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"webhook secret is not {SECRET_PREFIX}<base64>: {exc}") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(secret: str, webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``; ``timestamp`` defaults to now."""
    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    digest = _digest(decode_secret(secret), webhook_id, timestamp_text, body)
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: timestamp_text,
        SIGNATURE_HEADER: f"{_VERSION},{_b64encode(digest)}",
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: int | None = None,
) -> None:
    """Check the Standard Webhooks headers of ``body``; raise :class:`InvalidSignature`.

    Header names are matched case-insensitively. The signature header may hold several
    space-separated signatures (key rotation); one matching ``v1`` signature is enough.
    """
    key = decode_secret(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = _required(lowered, ID_HEADER)
    timestamp_text = _required(lowered, TIMESTAMP_HEADER)
    signatures = _required(lowered, SIGNATURE_HEADER)
    _check_timestamp(timestamp_text, tolerance_seconds, int(time.time()) if now is None else now)
    expected = _digest(key, webhook_id, timestamp_text, body)
    candidates = list(_v1_signatures(signatures))
    if not candidates:
        raise InvalidSignature(f"{SIGNATURE_HEADER} header holds no {_VERSION} signature")
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature(f"no {SIGNATURE_HEADER} matches the body and the secret")


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _digest(key: bytes, webhook_id: str, timestamp_text: str, body: bytes) -> bytes:
    signed = f"{webhook_id}.{timestamp_text}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise InvalidSignature(f"missing {name} header")
    return value


def _check_timestamp(timestamp_text: str, tolerance_seconds: int, now: int) -> None:
    if not (timestamp_text.isascii() and timestamp_text.isdigit()):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} {timestamp_text!r} is not a Unix time")
    skew = now - int(timestamp_text)
    if skew > tolerance_seconds:
        raise InvalidSignature(
            f"{TIMESTAMP_HEADER} is {skew} s old, beyond the {tolerance_seconds} s tolerance"
        )
    if -skew > tolerance_seconds:
        raise InvalidSignature(
            f"{TIMESTAMP_HEADER} is {-skew} s in the future, "
            f"beyond the {tolerance_seconds} s tolerance"
        )


def _v1_signatures(header: str) -> Iterator[bytes]:
    """The decoded ``v1`` signatures of the header; other versions and garbage are skipped."""
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != _VERSION:
            continue
        try:
            yield base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
