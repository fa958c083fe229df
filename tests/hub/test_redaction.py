"""Secrets are masked in every text that leaves the process."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, SecretStr

from hub.redaction import (
    MASK,
    install_log_redaction,
    redact,
    redact_value,
    register_secret,
    register_secrets_in,
)


def test_registered_secret_is_masked_everywhere() -> None:
    register_secret("shpat_0123456789abcdef")
    assert redact("token shpat_0123456789abcdef failed") == f"token {MASK} failed"
    assert redact_value({"a": ["x shpat_0123456789abcdef"]}) == {"a": [f"x {MASK}"]}


def test_longer_secret_is_masked_before_its_prefix() -> None:
    register_secret("abcd1234")
    register_secret("abcd1234-extended")
    assert redact("abcd1234-extended") == MASK


def test_credential_looking_values_are_masked_even_unregistered() -> None:
    text = "GET https://x.test/a?access_token=live-123&limit=5 Authorization: Bearer eyJhbGci"
    cleaned = redact(text)
    assert "live-123" not in cleaned and "eyJhbGci" not in cleaned
    assert "limit=5" in cleaned


def test_secrets_found_in_models_are_registered() -> None:
    class Config(BaseModel):
        token: SecretStr
        nested: dict[str, SecretStr]

    register_secrets_in(
        Config(token=SecretStr("tok-aaaa-1111"), nested={"k": SecretStr("nested-secret")})
    )
    assert MASK in redact("tok-aaaa-1111") and "nested-secret" not in redact("x nested-secret")


def test_very_short_values_are_not_treated_as_secrets() -> None:
    register_secret("ab")
    assert redact("table") == "table"


def test_log_lines_and_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("super-secret-token")
    install_log_redaction()
    logger = logging.getLogger("hub.test")
    with caplog.at_level(logging.INFO, logger="hub"):
        logger.info("calling with %s", "super-secret-token")
        try:
            raise ValueError("bad token super-secret-token")
        except ValueError:
            logger.exception("failed")
    assert "super-secret-token" not in caplog.text
    assert MASK in caplog.text
