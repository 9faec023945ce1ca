"""One exception tree for everything a lab user can hit.

Every error carries a one-line ``hint`` saying what to check next, so notebooks and the CLI can
show a single clear message instead of a traceback from deep inside a library.
"""

from __future__ import annotations


class WifLabError(Exception):
    """Base of all wif_lab errors: a message plus what to check next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n→ Check next: {self.hint}" if self.hint else self.message

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the error and what to check, nothing deeper."""
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(WifLabError):
    """A parameter or connection setting is missing or malformed."""

    hint = "the notebook's parameters cell or the connection file"


class ProviderUnreachable(WifLabError):
    """An identity provider, issuer or the Anthropic endpoint could not be reached."""

    hint = "the URL, that the service is running, and the CA bundle used for TLS"


class ProviderError(WifLabError):
    """An identity provider refused to issue a token (OAuth or provider-specific error body)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error: str | None = None,
        description: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error = error
        self.description = description


# --- token inspection and verification (mirrors pyjwt's tree, with hints) ---------------------


class TokenError(WifLabError):
    """A JWT could not be decoded or did not verify."""

    hint = "decode the token and compare its header and claims with what the verifier expects"


class MalformedToken(TokenError):
    hint = "that the value is a compact JWT (three base64url parts) and was not truncated or quoted"


class DiscoveryError(TokenError):
    hint = "that <issuer>/.well-known/openid-configuration is reachable and names a jwks_uri"


class KeyNotFound(TokenError):
    hint = "that the token's `kid` is published in the issuer's JWKS (keys may have rotated)"


class InvalidSignature(TokenError):
    hint = "that the token was signed by this issuer's key and not modified"


class IssuerMismatch(TokenError):
    hint = "the token's `iss` must equal the registered issuer URL byte for byte (scheme, path, slash)"


class AudienceMismatch(TokenError):
    hint = "the `aud` the identity provider puts in the token and the audience the verifier expects"


class TokenExpired(TokenError):
    hint = "fetch a fresh token; identity tokens are short-lived and must not be cached past `exp`"


class TokenNotYetValid(TokenError):
    hint = "clock skew between this host and the identity provider (`nbf`/`iat` are in the future)"


class UnsupportedAlgorithm(TokenError):
    hint = "only asymmetric algorithms (RS*, PS*, ES*) are accepted; never HS* or `none`"


# --- the exchange ------------------------------------------------------------------------------


class ExchangeRefused(WifLabError):
    """Anthropic's token endpoint refused the jwt-bearer exchange."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error: str | None,
        description: str | None,
        request_id: str | None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error = error
        self.description = description
        self.request_id = request_id
