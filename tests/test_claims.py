"""Token claims decoded locally: the fields -v and doctor show, and nothing raises on garbage."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from rest_client.claims import TokenClaims, decode_claims


def jwt(payload: object) -> str:
    def seg(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'RS256'})}.{seg(payload)}.signature"


def test_a_user_token_shows_audience_tenant_upn_scopes_and_expiry() -> None:
    claims = decode_claims(jwt({"aud": "https://cognitiveservices.azure.com", "tid": "t-1", "upn": "ada@contoso.com",
                                "oid": "o-1", "scp": "user_impersonation other", "exp": 1_700_003_600}))
    assert claims == TokenClaims(audience="https://cognitiveservices.azure.com", tenant="t-1", upn="ada@contoso.com",
                                 oid="o-1", scopes=("user_impersonation", "other"), expires_on=1_700_003_600.0)
    assert claims.identity == "ada@contoso.com" and claims.audience_matches()
    assert claims.describe(1_700_000_000) == ("aud https://cognitiveservices.azure.com, tenant t-1, "
                                              "upn ada@contoso.com, oid o-1, scp user_impersonation other, "
                                              "exp in 60 min")


def test_an_app_token_for_the_wrong_audience_with_roles_and_expired() -> None:
    claims = decode_claims(jwt({"aud": "https://management.azure.com/", "appid": "app-1", "roles": ["Reader"],
                                "exp": 100}))
    assert claims is not None and not claims.audience_matches()
    assert claims.identity == "app-1" and claims.roles == ("Reader",)
    assert claims.describe(160).endswith("roles Reader, EXPIRED 60 s ago")


def test_audience_with_trailing_slash_matches() -> None:
    assert TokenClaims(audience="https://cognitiveservices.azure.com/").audience_matches()


def test_what_is_not_a_jwt_gives_none() -> None:
    for token in ("", "opaque-token", "a.b", "a.!!!.c", "a..c", jwt([1, 2]), None, 42, "x." * 40000,
                  "a." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".c"):
        assert decode_claims(token) is None


def test_odd_claim_types_are_ignored_not_raised() -> None:
    claims = decode_claims(jwt({"aud": ["https://cognitiveservices.azure.com"], "exp": "soon", "roles": "one",
                                "tid": 7, "upn": None}))
    assert claims == TokenClaims(audience="https://cognitiveservices.azure.com", roles=("one",))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: base64.urlsafe_b64encode(b).decode()),
                 st.lists(st.text(alphabet="abcXYZ-_=+/", max_size=30), min_size=1, max_size=4).map(".".join),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                              lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                  st.sampled_from(["aud", "tid", "upn", "appid", "oid", "roles", "scp", "exp"]),
                                  inner, max_size=8), max_leaves=20).map(jwt)))
def test_never_raises_on_anything(token: str) -> None:
    claims = decode_claims(token)
    if claims is not None:
        claims.describe(0.0)
        claims.audience_matches()
