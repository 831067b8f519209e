"""``Settings`` and ``TokenStatus`` as notebook displays: each value with where it came from (pure).

Why: "which endpoint, which deployment, and why that one?" is the first question of every failed call, and
``Settings.sources`` already knows the answer (the argument, variable or config.json key that won). Secrets
(the api-key, an APIM subscription key, secret-looking extra headers) show as ``***``. The token display
shows where the token came from, how long it has left and its claims, decoded locally — never the token.
"""

from __future__ import annotations

import time
from dataclasses import MISSING, Field, fields
from datetime import datetime, timezone
from typing import Any

from ..claims import COGNITIVE_SERVICES_AUDIENCE
from ..redact import REDACTED, redact_headers
from .html import BORDER, COLOURS, badge_html, box_html, code, duration, esc, line_html, muted, table_html

SECRET_FIELDS = frozenset({"api_key", "subscription_key"})
AUTH_NAMES = {"key": "api-key header", "cli": "Entra ID via AzureCliCredential (az login)",
              "default": "Entra ID via DefaultAzureCredential", "apim": "APIM subscription key"}


def setting_value(name: str, value: Any) -> str:
    """One setting as markup: secrets as ``***``, unset as a muted dash, headers redacted one per line."""
    if name in SECRET_FIELDS:
        return code(REDACTED) if value else muted("— not set")
    if name == "headers":
        shown = redact_headers(value or {})
        return "<br>".join(code(f"{k}: {v}") for k, v in shown.items()) if shown else muted("— none")
    if value is None:
        return muted("— not set" if name != "read_timeout" else "automatic: 120 s, 600 s for a reasoning model")
    text = code(value)
    if name == "auth":
        text += " " + muted(AUTH_NAMES.get(str(value), ""))
    return text


def source_of(settings: Any, f: Field[Any], sources: dict[str, str]) -> str:
    """Where a value came from: as ``load_settings`` recorded it; for a ``Settings(...)`` built directly (nothing
    recorded), "default" only when the value is the field's default, else the constructor's argument."""
    if sources.get(f.name):
        return sources[f.name]
    default = f.default_factory() if f.default_factory is not MISSING else f.default
    return "default" if default is not MISSING and getattr(settings, f.name) == default else f"argument {f.name}"


def settings_html(settings: Any) -> str:
    """Every field of a ``Settings`` with its value and its source, highest-priority source winning."""
    sources = dict(getattr(settings, "sources", {}) or {})
    rows = []
    for f in fields(settings):
        if f.name == "sources":
            continue
        rows.append((code(f.name), setting_value(f.name, getattr(settings, f.name)),
                     muted(source_of(settings, f, sources))))
    api = "the v1 API (/openai/v1)" if settings.is_v1 else f"api-version {settings.api_version}"
    head = line_html(badge_html("Settings", 200), code(settings.endpoint), esc(api))
    note = muted("precedence: arguments > environment > config file > defaults")
    return box_html(head + table_html(("setting", "value", "from"), rows) + note, status=200, kind="settings")


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%H:%M:%S UTC")


def lifetime_bar_html(expires_in: float, refresh_in: float) -> str:
    """The token's remaining life as a bar: served from the cache until the refresh time, then due for refresh
    while still valid; red once expired."""
    if expires_in <= 0:
        fg, bg = COLOURS["server"]
        return (f'<div style="height:10px;background:{bg};border:1px solid {fg};border-radius:3px;max-width:520px">'
                "</div>")
    cached = max(0.0, min(refresh_in, expires_in)) / expires_in * 100
    ok_fg, ok_bg = COLOURS["ok"]
    due_bg = COLOURS["throttled"][1]
    return (f'<div class="lifetime" style="display:flex;height:10px;max-width:520px;border:1px solid {BORDER};'
            f'border-radius:3px;overflow:hidden"><div title="served from the cache" style="width:{cached:.1f}%;'
            f'background:{ok_bg};border-right:2px solid {ok_fg}"></div><div title="refresh due (still valid)" '
            f'style="flex:1;background:{due_bg}"></div></div>'
            f'<div style="font-size:11px">{muted("now")} {muted("→ refresh in " + duration(max(0.0, refresh_in)))} '
            f'{muted("→ expires in " + duration(expires_in))}</div>')


def claims_rows(claims: Any, now: float) -> list[tuple[str, str]]:
    aud = claims.audience
    if aud is None:
        audience = muted("— none")
    elif claims.audience_matches():
        audience = code(aud) + " " + badge_html("Azure OpenAI's audience", 200)
    else:
        audience = code(aud) + " " + badge_html(f"not {COGNITIVE_SERVICES_AUDIENCE}: Azure OpenAI answers 401", 401)
    rows = [("aud", audience), ("tid (tenant)", code(claims.tenant or "?"))]
    for label, value in (("upn (user)", claims.upn), ("appid (application)", claims.appid),
                         ("oid (object id)", claims.oid), ("iss (issuer)", claims.issuer)):
        if value:
            rows.append((label, code(value)))
    rows.append(("roles", ", ".join(code(r) for r in claims.roles) or muted("— none")))
    rows.append(("scp (scopes)", ", ".join(code(s) for s in claims.scopes) or muted("— none")))
    if claims.expires_on is not None:
        left = claims.expires_on - now
        when = f"in {duration(left)}" if left >= 0 else f"EXPIRED {duration(-left)} ago"
        rows.append(("exp", f"{code(f'{claims.expires_on:.0f}')} {esc(_utc(claims.expires_on))}, {esc(when)}"))
    return [(code(name), value) for name, value in rows]


def token_html(status: Any, *, now: float | None = None) -> str:
    """A ``TokenStatus``: source, fetch time, credential calls, a lifetime bar and the decoded claims."""
    now = time.time() if now is None else now
    expired = status.expires_in <= 0
    state = f"expired {duration(-status.expires_in)} ago" if expired else f"valid for {duration(status.expires_in)}"
    calls = status.credential_calls
    head = line_html(badge_html("Entra ID token: " + state, 401 if expired else 200),
                     f"from <b>{esc(status.source)}</b>",
                     f"fetched in {duration(status.fetch_seconds)}",
                     f"{calls} credential call{'s' if calls != 1 else ''}")
    expiry = line_html(muted(f"as of {_utc(now)}"), f"expires at {esc(_utc(now + status.expires_in))}",
                       f"refresh at {esc(_utc(now + status.refresh_in))}")
    claims = status.claims
    table = (table_html(("claim", "value"), claims_rows(claims, now)) if claims is not None
             else muted("not a JWT: nothing to decode"))
    note = muted("claims decoded locally, signature not checked; the token itself is never shown")
    return box_html(head + lifetime_bar_html(status.expires_in, status.refresh_in) + expiry + table + note,
                    status=401 if expired else 200, kind="token")
