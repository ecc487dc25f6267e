from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auditkit.errors import InputError
from auditkit.sources.tokens import (
    SignatureStatus,
    decode_token,
    token_from_claims,
    token_hash_id,
)

SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(private_key: Any, kid: str = "k1") -> dict[str, Any]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {"keys": [public | {"kid": kid, "use": "sig", "alg": "RS256"}]}


@pytest.fixture
def delegated_claims() -> dict[str, Any]:
    """Alice's token exchanged twice: a planner agent, then a mailer agent."""
    return {
        "iss": "https://idp.example.com",
        "sub": "alice",
        "aud": ["https://crm.example.com", "https://mail.example.com"],
        "scope": "crm.read mail.send",
        "iat": 1772352000,
        "exp": 1772355600.5,
        "jti": "tok-42",
        "client_id": "mailer-app",
        "act": {"sub": "mailer-agent", "act": {"sub": "planner-agent"}},
        "may_act": {"sub": "mailer-agent"},
    }


def test_act_chain_current_actor_is_outermost(delegated_claims: dict[str, Any]) -> None:
    info = token_from_claims(delegated_claims)
    assert info.actor == "mailer-agent"
    assert info.actor_chain == ("mailer-agent", "planner-agent")


def test_act_chain_fills_call_fields(delegated_claims: dict[str, Any]) -> None:
    fields = token_from_claims(delegated_claims).call_fields("https://mail.example.com")
    assert fields["subject"] == "alice"
    assert fields["actor"] == "mailer-agent"
    assert fields["actor_chain"] == ["mailer-agent", "planner-agent"]
    assert fields["audience"] == "https://mail.example.com"
    assert fields["token_id"] == "tok-42"
    assert fields["token_issued_at"] == "2026-03-01T08:00:00Z"
    assert fields["token_expires_at"] == "2026-03-01T09:00:00.500000Z"


def test_claims_keep_may_act_scope_and_audience(
    delegated_claims: dict[str, Any],
) -> None:
    info = token_from_claims(delegated_claims)
    assert info.may_act == ("mailer-agent",)
    assert info.scope == ("crm.read", "mail.send")
    assert info.audience == ("https://crm.example.com", "https://mail.example.com")
    assert info.client_id == "mailer-app"


def test_audience_defaults_to_first_listed(delegated_claims: dict[str, Any]) -> None:
    fields = token_from_claims(delegated_claims).call_fields("https://other.example")
    assert fields["audience"] == "https://crm.example.com"


def test_client_id_is_actor_without_act() -> None:
    info = token_from_claims({"sub": "alice", "client_id": "agent-app", "aud": "api"})
    assert info.actor == "agent-app"
    assert info.call_fields()["actor_chain"] == ["agent-app"]
    assert info.call_fields()["audience"] == "api"


def test_act_claim_of_wrong_type_rejected() -> None:
    with pytest.raises(InputError, match="expected an object for the act claim"):
        token_from_claims({"sub": "alice", "act": "agent"})


def test_issued_at_of_wrong_type_rejected() -> None:
    with pytest.raises(InputError, match="field 'iat'"):
        token_from_claims({"sub": "alice", "iat": "yesterday"})


def test_decoded_jwt_matches_claims(delegated_claims: dict[str, Any]) -> None:
    token = jwt.encode(delegated_claims, SIGNING_KEY, algorithm="RS256")
    info = decode_token(token)
    assert info.actor_chain == ("mailer-agent", "planner-agent")
    assert info.signature is SignatureStatus.NOT_CHECKED


def test_token_without_jti_gets_hash_id() -> None:
    token = jwt.encode({"sub": "alice"}, SIGNING_KEY, algorithm="RS256")
    info = decode_token(f"Bearer {token}")
    assert info.token_id == token_hash_id(token)
    assert token not in repr(info)


def test_invalid_jwt_message_hides_token() -> None:
    secret_text = "not-a-jwt-but-a-secret-value"
    with pytest.raises(InputError, match="invalid JWT") as caught:
        decode_token(secret_text)
    assert secret_text not in str(caught.value)


def test_signature_valid_with_jwks(delegated_claims: dict[str, Any]) -> None:
    token = jwt.encode(
        delegated_claims, SIGNING_KEY, algorithm="RS256", headers={"kid": "k1"}
    )
    info = decode_token(token, jwks=_jwks(SIGNING_KEY))
    assert info.signature is SignatureStatus.VALID


def test_signature_invalid_with_other_key(delegated_claims: dict[str, Any]) -> None:
    token = jwt.encode(
        delegated_claims, OTHER_KEY, algorithm="RS256", headers={"kid": "k1"}
    )
    info = decode_token(token, jwks=_jwks(SIGNING_KEY))
    assert info.signature is SignatureStatus.INVALID
    assert info.signature_error == "signature does not match any key"


def test_symmetric_algorithm_never_accepted() -> None:
    token = jwt.encode({"sub": "alice"}, "shared-secret-of-32-bytes-or-more!", "HS256")
    info = decode_token(token, jwks=_jwks(SIGNING_KEY))
    assert info.signature is SignatureStatus.INVALID
    assert info.signature_error == "algorithm 'HS256' is not accepted"


def test_jwks_file_is_read(tmp_path: Any, delegated_claims: dict[str, Any]) -> None:
    import json

    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(_jwks(SIGNING_KEY)), encoding="utf-8")
    token = jwt.encode(
        delegated_claims, SIGNING_KEY, algorithm="RS256", headers={"kid": "k1"}
    )
    assert decode_token(token, jwks=path).signature is SignatureStatus.VALID


def test_missing_jwks_file_rejected(tmp_path: Any) -> None:
    token = jwt.encode({"sub": "alice"}, SIGNING_KEY, algorithm="RS256")
    with pytest.raises(InputError, match="cannot read JWKS file"):
        decode_token(token, jwks=tmp_path / "absent.json")
