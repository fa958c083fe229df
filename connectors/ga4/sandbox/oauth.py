"""The sandbox's OAuth 2.0 token endpoint for a service account (apis.md 3.2).

:class:`ServiceAccount` is a freshly generated RSA key pair with the JSON key
file Google hands out (``service_account_info()``), which google-auth's
``service_account.Credentials.from_service_account_info`` accepts; its
``token_uri`` points at the sandbox. :meth:`ServiceAccount.exchange` checks a
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` form as Google's
token endpoint does: the JWT's RS256 signature against the account's public
key and its claims (``iss``, ``aud``, ``scope``, ``iat``/``exp``), and
answers ``{"access_token", "expires_in": 3599, "token_type": "Bearer"}`` or
400 ``{"error": "invalid_grant", "error_description": ...}``.

The signature is checked with ``cryptography`` directly (PyJWT is not a
dependency of the hub).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPES = (
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics",
)
#: the audiences Google's token endpoint takes: google-auth always signs for the first, even
#: when ``token_uri`` points elsewhere [V: google/oauth2/service_account.py]; the older
#: endpoint URLs [B]; the sandbox also takes its own token URL
GOOGLE_AUDIENCES = (
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
)
EXPIRES_IN = 3599
#: Google accepts assertions valid for at most an hour [V: "short-lived token (60 minutes)"]
MAX_LIFETIME = 3600
#: clock skew allowed on ``iat`` [B]
SKEW = 300
PROJECT_ID = "partner-hub-sandbox"
CLIENT_EMAIL = f"hub-sandbox@{PROJECT_ID}.iam.gserviceaccount.com"
_TIMEFRAME = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


class GrantRefused(Exception):
    """The token endpoint refuses the form: OAuth's ``error`` code and description (HTTP 400)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Grant:
    """An access token issued by the endpoint."""

    access_token: str
    expires_in: int
    scope: str


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class ServiceAccount:
    """A sandbox service account: an RSA key pair and its Google-style JSON key."""

    def __init__(self, client_email: str = CLIENT_EMAIL) -> None:
        self.client_email = client_email
        self._private_key: rsa.RSAPrivateKey | None = None
        self._key_lock = threading.Lock()
        self.private_key_id = secrets.token_hex(20)
        self.client_id = str(100_000_000_000_000_000_000 + secrets.randbelow(10**20))

    @property
    def _key(self) -> rsa.RSAPrivateKey:
        """Made on first use (a 2048-bit key takes a noticeable moment), once."""
        with self._key_lock:
            if self._private_key is None:
                self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._private_key

    def info(self, token_uri: str) -> dict[str, str]:
        """The JSON key file's content, ``token_uri`` pointing at the sandbox."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": (
                "https://www.googleapis.com/robot/v1/metadata/x509/"
                + self.client_email.replace("@", "%40")
            ),
            "universe_domain": "googleapis.com",
        }

    def exchange(self, form: bytes, *, audience: str, now: float) -> Grant:
        """Check a token request form; the grant, or :class:`GrantRefused`.

        ``audience`` is the sandbox's own token URL; Google's token URLs
        (:data:`GOOGLE_AUDIENCES`) are accepted as well.
        """
        try:
            fields = parse_qs(form.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise GrantRefused("invalid_request", "The request body is not UTF-8.") from None
        grant_type = (fields.get("grant_type") or [""])[-1]
        if grant_type != JWT_BEARER:
            # [B] Google's wording
            raise GrantRefused("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = (fields.get("assertion") or [""])[-1]
        if not assertion:
            raise GrantRefused("invalid_request", "Missing required parameter: assertion")
        claims = self.verify(assertion)
        if claims.get("iss") != self.client_email:
            raise GrantRefused("invalid_grant", "Invalid grant: account not found")  # [B]
        if claims.get("aud") not in (audience, *GOOGLE_AUDIENCES):
            # [B] the wording; the check itself is standard (RFC 7523 3)
            raise GrantRefused("invalid_grant", "Invalid JWT: Failed audience check.")
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int | float)
            or not isinstance(exp, int | float)
            or exp <= now
            or iat > now + SKEW
            or exp - iat > MAX_LIFETIME
        ):
            raise GrantRefused("invalid_grant", _TIMEFRAME)
        scope = claims.get("scope")
        granted = str(scope).split() if isinstance(scope, str) else []
        if not any(s in SCOPES for s in granted):
            raise GrantRefused(
                "invalid_scope",
                "Invalid OAuth scope or ID token audience provided. The sandbox grants "
                f"{SCOPES[0]} (or {SCOPES[1]}).",
            )
        token = "ya29.sandbox-" + secrets.token_urlsafe(32)
        return Grant(token, EXPIRES_IN, " ".join(s for s in granted if s in SCOPES))

    def verify(self, assertion: str) -> dict[str, Any]:
        """The claims of an RS256 JWT signed with this account's key; else GrantRefused."""
        parts = assertion.split(".")
        if len(parts) != 3:
            raise GrantRefused("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
        try:
            header = orjson.loads(_b64decode(parts[0]))
            claims = orjson.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except (binascii.Error, ValueError):
            raise GrantRefused(
                "invalid_grant", "Invalid JWT: the assertion is not a JWT."
            ) from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise GrantRefused("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
        if header.get("alg") != "RS256":
            raise GrantRefused("invalid_grant", "Invalid JWT: only RS256 is accepted.")  # [B]
        try:
            self._key.public_key().verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, UnicodeEncodeError):
            raise GrantRefused("invalid_grant", "Invalid JWT Signature.") from None  # [B]
        return claims
