"""Access-token claims (JWT, RFC 8693 token exchange) as call fields.

A token names the user (``sub``), which agents act for them (nested ``act``
claims, RFC 8693 section 4.1: the outermost ``act`` is the current actor and each
nested ``act`` a prior one), who may act (``may_act``), the audience, scopes and the
validity times. Signatures are checked only when a JWKS is given.

The raw token is never stored or logged: ``token_id`` is the ``jti`` claim, else
``sha256:`` and the first 32 hex digits of the token's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from auditkit.errors import InputError
from auditkit.sources.adapter_support import epoch_timestamp, text_or_none
from auditkit.sources.base import RawRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

    from jwt.types import Options

logger = logging.getLogger(__name__)

# Asymmetric algorithms only: a JWKS contains public keys, and accepting HS256 with a
# public key as the secret is the classic algorithm-confusion attack.
ALLOWED_ALGORITHMS = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)
MAX_ACT_DEPTH = 32
TOKEN_FIELD = "token"  # noqa: S105 - a field name, not a secret


class SignatureStatus(StrEnum):
    """Result of checking a token's signature."""

    NOT_CHECKED = "not_checked"
    VALID = "valid"
    INVALID = "invalid"


@dataclass(frozen=True)
class TokenInfo:
    """Claims of one access token that matter to an audit.

    ``actor_chain`` lists the acting parties current first: the ``sub`` of the
    outermost ``act``, then of each nested ``act``. ``may_act`` lists the ``sub`` of
    the ``may_act`` claim, the parties allowed to act for ``subject``.
    """

    token_id: str | None = None
    subject: str | None = None
    actor_chain: tuple[str, ...] = ()
    may_act: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    issued_at: str | None = None
    expires_at: str | None = None
    client_id: str | None = None
    issuer: str | None = None
    signature: SignatureStatus = SignatureStatus.NOT_CHECKED
    signature_error: str | None = field(default=None, compare=False)

    @property
    def actor(self) -> str | None:
        """Current actor: the outermost ``act``, else the OAuth client."""
        if self.actor_chain:
            return self.actor_chain[0]
        return self.client_id

    def call_fields(self, resource_server: str | None = None) -> dict[str, Any]:
        """Return the canonical ToolCall fields this token provides.

        A call has one audience: the one equal to ``resource_server`` when the
        token lists it, else the first listed. Fields the token lacks are left out.

        Examples
        --------
        >>> info = token_from_claims({"sub": "alice", "act": {"sub": "agent-1"}})
        >>> info.call_fields()
        {'subject': 'alice', 'actor': 'agent-1', 'actor_chain': ['agent-1']}
        """
        chain = list(self.actor_chain)
        if not chain and self.client_id is not None:
            chain = [self.client_id]
        fields: dict[str, Any] = {
            "subject": self.subject,
            "actor": self.actor,
            "actor_chain": chain or None,
            "token_id": self.token_id,
            "token_issued_at": self.issued_at,
            "token_expires_at": self.expires_at,
            "audience": self._pick_audience(resource_server),
        }
        return {name: value for name, value in fields.items() if value is not None}

    def _pick_audience(self, resource_server: str | None) -> str | None:
        if resource_server is not None and resource_server in self.audience:
            return resource_server
        return self.audience[0] if self.audience else None


def token_hash_id(token: str) -> str:
    """Return the id of a token that has no ``jti``: a prefix of its SHA-256.

    Examples
    --------
    >>> token_hash_id("abc")
    'sha256:ba7816bf8f01cfea414140de5dae2223'
    """
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return f"sha256:{digest[:32]}"


def token_from_claims(
    claims: Mapping[str, Any], record: RawRecord | None = None
) -> TokenInfo:
    """Read the audit-relevant claims of a decoded token.

    Parameters
    ----------
    claims
        Decoded JWT claims, or any object shaped like them (a gateway's principal).
    record
        Where the claims were read, for error locations.

    Raises
    ------
    InputError
        If a claim has the wrong type or the ``act`` chain nests too deep.

    Examples
    --------
    >>> claims = {"sub": "alice", "act": {"sub": "agent-2", "act": {"sub": "agent-1"}}}
    >>> token_from_claims(claims).actor_chain
    ('agent-2', 'agent-1')
    """
    where = record or RawRecord("<token>", 0, None)
    return TokenInfo(
        token_id=text_or_none(claims.get("jti")),
        subject=text_or_none(claims.get("sub")),
        actor_chain=_act_chain(claims.get("act"), where),
        may_act=_may_act(claims.get("may_act"), where),
        audience=_string_list(claims.get("aud"), where, "aud"),
        scope=_scopes(claims, where),
        issued_at=_claim_time(claims.get("iat"), where, "iat"),
        expires_at=_claim_time(claims.get("exp"), where, "exp"),
        client_id=text_or_none(claims.get("client_id") or claims.get("azp")),
        issuer=text_or_none(claims.get("iss")),
    )


def decode_token(
    token: str,
    *,
    jwks: Mapping[str, Any] | str | Path | None = None,
    record: RawRecord | None = None,
) -> TokenInfo:
    """Decode a JWT access token and, when ``jwks`` is given, check its signature.

    Parameters
    ----------
    token
        The compact JWT (``header.payload.signature``); a ``Bearer`` prefix is removed.
    jwks
        A JSON Web Key Set as a mapping, or the path of a JSON file holding one.
        Expiry and audience are not enforced: an audit reads old tokens on purpose.
    record
        Where the token was read, for error locations.

    Returns
    -------
    TokenInfo
        The claims, with ``signature`` set to ``valid`` or ``invalid`` when checked.
        ``token_id`` falls back to :func:`token_hash_id`.

    Raises
    ------
    InputError
        If the token is not a decodable JWT. The message never contains the token.
    """
    where = record or RawRecord("<token>", 0, None)
    token = token.strip().removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        reason = f"invalid JWT: {type(error).__name__}"
        hint = "pass the compact form header.payload.signature or decoded claims"
        raise InputError(
            reason, path=where.path, line=where.line, field=TOKEN_FIELD, hint=hint
        ) from None

    info = token_from_claims(claims, where)
    if info.token_id is None:
        info = _replace(info, token_id=token_hash_id(token))
    if jwks is None:
        return info
    status, problem = verify_signature(token, load_jwks(jwks))
    return _replace(info, signature=status, signature_error=problem)


def load_jwks(jwks: Mapping[str, Any] | str | Path) -> jwt.PyJWKSet:
    """Load a JSON Web Key Set from a mapping or a JSON file.

    Raises
    ------
    InputError
        If the file cannot be read or contains no usable key.
    """
    source = "<jwks>"
    if isinstance(jwks, str | Path):
        source = str(jwks)
        try:
            key_set = json.loads(Path(jwks).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            reason = f"cannot read JWKS file: {error}"
            hint = "pass a JSON Web Key Set"
            raise InputError(reason, path=source, hint=hint) from error
    else:
        key_set = dict(jwks)
    if not isinstance(key_set, dict):
        raise InputError("a JWKS must be a JSON object", path=source, field="keys")
    try:
        return jwt.PyJWKSet.from_dict(key_set)
    except jwt.PyJWTError as error:
        reason = f"invalid JWKS: {error}"
        raise InputError(reason, path=source, field="keys") from error


def verify_signature(
    token: str, key_set: jwt.PyJWKSet
) -> tuple[SignatureStatus, str | None]:
    """Check a token's signature against a key set.

    Returns
    -------
    tuple of SignatureStatus and str or None
        ``valid`` and ``None``, or ``invalid`` and why (never the token itself).
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        return SignatureStatus.INVALID, f"unreadable header: {type(error).__name__}"

    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        return SignatureStatus.INVALID, f"algorithm {algorithm!r} is not accepted"
    candidates = [
        key
        for key in key_set.keys
        if header.get("kid") is None or key.key_id == header.get("kid")
    ]
    if not candidates:
        return SignatureStatus.INVALID, f"no key with kid {header.get('kid')!r}"

    options: Options = {
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": False,
        "verify_iss": False,
    }
    for candidate in candidates:
        try:
            jwt.decode(
                token, key=candidate.key, algorithms=[algorithm], options=options
            )
        except jwt.PyJWTError:
            continue
        return SignatureStatus.VALID, None
    return SignatureStatus.INVALID, "signature does not match any key"


def _replace(info: TokenInfo, **changes: Any) -> TokenInfo:
    values = {name: getattr(info, name) for name in info.__dataclass_fields__}
    return TokenInfo(**(values | changes))


def _act_chain(act: Any, record: RawRecord) -> tuple[str, ...]:
    chain: list[str] = []
    depth = 0
    while act is not None:
        depth += 1
        if not isinstance(act, dict):
            reason = f"expected an object for the act claim, got {type(act).__name__}"
            raise _claim_error(record, reason, "act")
        if depth > MAX_ACT_DEPTH:
            reason = f"act claims nest deeper than {MAX_ACT_DEPTH} levels"
            raise _claim_error(record, reason, "act")
        actor = text_or_none(act.get("sub")) or text_or_none(act.get("client_id"))
        if actor is not None:
            chain.append(actor)
        act = act.get("act")
    return tuple(chain)


def _may_act(value: Any, record: RawRecord) -> tuple[str, ...]:
    if value is None:
        return ()
    entries = value if isinstance(value, list) else [value]
    names: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            reason = f"expected an object for may_act, got {type(entry).__name__}"
            raise _claim_error(record, reason, "may_act")
        name = text_or_none(entry.get("sub")) or text_or_none(entry.get("client_id"))
        if name is not None:
            names.append(name)
    return tuple(names)


def _string_list(value: Any, record: RawRecord, claim: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    reason = f"expected a string or a list of strings, got {value!r}"
    raise _claim_error(record, reason, claim)


def _scopes(claims: Mapping[str, Any], record: RawRecord) -> tuple[str, ...]:
    # RFC 8693 section 4.2 writes scope as one space-separated string; some
    # issuers use a list under "scope" or "scp".
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            return tuple(value.split())
        if value is not None:
            return _string_list(value, record, claim)
    return ()


def _claim_time(value: Any, record: RawRecord, claim: str) -> str | None:
    if value is None:
        return None
    # JWT NumericDate (RFC 7519 section 2): seconds since the epoch, maybe fractional.
    return epoch_timestamp(value, "s", record, claim)


def _claim_error(record: RawRecord, reason: str, claim: str) -> InputError:
    return InputError(reason, path=record.path, line=record.line, field=claim)
