"""Standard Webhooks signing and verification (herald.core.webhooks)."""

from __future__ import annotations

import base64
import time

import pytest

from herald.core.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    decode_secret,
    generate_secret,
    sign,
    verify,
)

# The reference vector of the Standard Webhooks libraries' test suites
# (libraries/python/tests/test_webhooks.py, test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = b'{"id": "m-1", "content": "hello"}'


def test_sign_matches_the_spec_vector() -> None:
    headers = sign(SPEC_SECRET, SPEC_ID, SPEC_BODY, timestamp=SPEC_TIMESTAMP)
    assert headers == {
        ID_HEADER: SPEC_ID,
        TIMESTAMP_HEADER: str(SPEC_TIMESTAMP),
        SIGNATURE_HEADER: SPEC_SIGNATURE,
    }


def test_verify_accepts_the_spec_vector() -> None:
    headers = {
        ID_HEADER: SPEC_ID,
        TIMESTAMP_HEADER: str(SPEC_TIMESTAMP),
        SIGNATURE_HEADER: SPEC_SIGNATURE,
    }
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_generated_secrets_are_fresh_32_byte_keys() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert first != second


def test_round_trip_with_the_current_time() -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY)
    assert abs(int(headers[TIMESTAMP_HEADER]) - time.time()) < 5
    verify(secret, headers, BODY)


def test_secret_without_prefix_gives_the_same_key() -> None:
    assert decode_secret(SPEC_SECRET) == decode_secret(SPEC_SECRET.removeprefix("whsec_"))


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!"])
def test_malformed_secret_is_a_configuration_error(secret: str) -> None:
    with pytest.raises(ValueError) as info:
        decode_secret(secret)
    assert not isinstance(info.value, InvalidSignature)


def test_tampered_body_is_refused() -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY)
    with pytest.raises(InvalidSignature, match="no webhook-signature matches"):
        verify(secret, headers, BODY.replace(b"hello", b"hellO"))


def test_wrong_secret_is_refused() -> None:
    headers = sign(generate_secret(), "msg_1", BODY)
    with pytest.raises(InvalidSignature, match="no webhook-signature matches"):
        verify(generate_secret(), headers, BODY)


def test_changed_id_is_refused() -> None:
    secret = generate_secret()
    headers = {**sign(secret, "msg_1", BODY), ID_HEADER: "msg_2"}
    with pytest.raises(InvalidSignature, match="no webhook-signature matches"):
        verify(secret, headers, BODY)


def test_stale_timestamp_is_refused() -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY, timestamp=1_000_000)
    verify(secret, headers, BODY, now=1_000_300)
    with pytest.raises(InvalidSignature, match="301 s old"):
        verify(secret, headers, BODY, now=1_000_301)


def test_future_timestamp_is_refused() -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY, timestamp=1_000_000)
    with pytest.raises(InvalidSignature, match="in the future"):
        verify(secret, headers, BODY, now=1_000_000 - 61, tolerance_seconds=60)


def test_non_integer_timestamp_is_refused() -> None:
    secret = generate_secret()
    headers = {**sign(secret, "msg_1", BODY), TIMESTAMP_HEADER: "soon"}
    with pytest.raises(InvalidSignature, match="not a Unix time"):
        verify(secret, headers, BODY)


@pytest.mark.parametrize("header", [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_missing_header_is_named(header: str) -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY)
    del headers[header]
    with pytest.raises(InvalidSignature, match=f"missing {header} header"):
        verify(secret, headers, BODY)


def test_one_matching_signature_among_several_is_enough() -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY)
    others = sign(generate_secret(), "msg_1", BODY)[SIGNATURE_HEADER]
    valid = headers[SIGNATURE_HEADER]
    headers[SIGNATURE_HEADER] = f"{others} v2,{valid.removeprefix('v1,')} v1,@@@ {valid}"
    verify(secret, headers, BODY)


def test_signatures_of_other_versions_only_are_refused() -> None:
    secret = generate_secret()
    headers = sign(secret, "msg_1", BODY)
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].replace("v1,", "v1a,")
    with pytest.raises(InvalidSignature, match="no v1 signature"):
        verify(secret, headers, BODY)


def test_header_names_are_case_insensitive() -> None:
    secret = generate_secret()
    headers = {name.title(): value for name, value in sign(secret, "msg_1", BODY).items()}
    verify(secret, headers, BODY)
