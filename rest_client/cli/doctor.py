"""``python -m rest_client doctor``: a preflight, one ✔/✘ line per check with the fix, exit 0 only when all pass.

The order follows the path of a call: settings → DNS → proxy → TCP → TLS → credential → token claims → the
deployment (the cheapest real call: one token of chat or completions, no retries) → api-version → role →
rate-limit headers. Each check says what it found, so the first ✘ is the thing to fix; ``--no-call`` stops before
anything is sent to the deployment. Network probes are in probes.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from ..errors import COGNITIVE_SERVICES_SCOPE, APIStatusError, ConfigError, RestClientError
from .common import EXIT_API, EXIT_OK, Console, add_connection_options, guarded, load
from .probes import FAIL, PASS, SKIP, Check, check_dns, check_proxy, check_tcp, check_tls

OPENAI_USER_ROLE = "Cognitive Services OpenAI User"
RATE_HEADERS = ("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "x-ratelimit-limit-requests",
                "x-ratelimit-limit-tokens")


def build_doctor_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rest_client doctor",
        description="Check everything between you and the deployment, one line per check, with the fix.",
        epilog="exit codes: 0 every check passed, 1 a check failed, 2 usage error.")
    p.add_argument("--no-call", action="store_true", help="do not call the deployment (no tokens spent)")
    p.add_argument("--completions", action="store_true", help="check the completions deployment, not chat")
    p.add_argument("-v", "--verbose", action="store_true", help="also azure-identity's log and tracebacks")
    add_connection_options(p, har=False)
    return p


def doctor_main(argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    args = build_doctor_parser().parse_args(argv)
    con = Console(stdout or sys.stdout, stderr or sys.stderr, args.verbose)
    return guarded(args, con, lambda emulator: Doctor(args, con, emulator).run())


class Doctor:
    """Runs the checks in order, printing each as it completes."""

    def __init__(self, args: argparse.Namespace, con: Console, emulator: Any) -> None:
        self.args, self.con, self.emulator = args, con, emulator
        self.failed = 0

    def say(self, check: Check) -> None:
        self.failed += check.failed
        self.con.say(check.line())

    def run(self) -> int:
        from .._version import __version__

        self.con.say(f"rest_client {__version__} doctor")
        try:
            settings = load(self.args, self.emulator, self.con)
        except ConfigError as exc:
            self.say(Check(FAIL, "settings", str(exc.args[0]) if exc.args else str(exc), exc.hint))
            return EXIT_API
        src = settings.sources
        operation = "completions" if self.args.completions else "chat/completions"
        deployment = self.args.deployment or (settings.completions_deployment if self.args.completions
                                              else settings.deployment)
        dep_source = "flag --deployment" if self.args.deployment else src.get(
            "completions_deployment" if self.args.completions else "deployment")
        self.say(Check(PASS, "settings", f"endpoint {settings.endpoint} (from {src.get('endpoint')}); api-version "
                                         f"{settings.api_version} (from {src.get('api_version')}); auth "
                                         f"{settings.auth} (from {src.get('auth', 'default')})"))
        if deployment:
            self.say(Check(PASS, "deployment name", f"{deployment} (from {dep_source})"))
        else:
            self.say(Check(FAIL, "deployment name", "none configured",
                           "set AZURE_OPENAI_DEPLOYMENT (the name you chose in the portal's Deployments) or "
                           "--deployment"))
        dns, _ = check_dns(settings.endpoint)
        self.say(dns)
        proxy_check, proxy = check_proxy(settings.endpoint)
        self.say(proxy_check)
        if dns.failed and not proxy:
            return self.finish()
        tcp = check_tcp(settings.endpoint, proxy, settings.connect_timeout)
        self.say(tcp)
        if tcp.failed:
            return self.finish()
        self.say(check_tls(settings.endpoint, proxy, settings.connect_timeout))
        credential = self.credential(settings)
        if credential is False:
            return self.finish()
        if self.args.no_call:
            self.say(Check(SKIP, "deployment", "not called (--no-call)"))
        elif deployment:
            self.call(settings, operation, deployment, credential)
        return self.finish()

    def finish(self) -> int:
        self.con.say("all checks passed" if not self.failed else f"{self.failed} check(s) failed")
        return EXIT_OK if not self.failed else EXIT_API

    # -- credential and token ------------------------------------------------------------------------------
    def credential(self, settings: Any) -> Any:
        """``None`` for key auth, a credential holding the token for Entra auth, ``False`` when none answered."""
        if settings.auth == "key":
            self.say(Check(PASS, "credential", f"api-key from {settings.sources.get('api_key', '?')} (roles do "
                                               "not apply to keys)"))
            return None
        from ..auth import credential_error

        owner, chain = self.chain(settings.auth)
        tried: list[str] = []
        last: BaseException = ConfigError("no credential to try")
        for cred in chain:
            name = type(cred).__name__
            t0 = time.perf_counter()
            try:
                token = cred.get_token(COGNITIVE_SERVICES_SCOPE)
            except Exception as exc:  # each link fails in its own way: report it, try the next
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:100]
                if name.startswith("Failed") and first.endswith("Credential authentication unavailable"):
                    name = first.split()[0]  # azure-identity's stand-in for a link it could not build
                tried.append(f"{name} ✘ {(time.perf_counter() - t0) * 1000:.0f} ms ({first})")
                last = exc
                continue
            ms = (time.perf_counter() - t0) * 1000
            others = f"; tried first: {'; '.join(tried)}" if tried else ""
            self.say(Check(PASS, "credential", f"{name} answered in {ms:.0f} ms{others}"))
            self.claims(token.token)
            return _Fixed(token)
        error = credential_error(owner, last)
        self.say(Check(FAIL, "credential", "none answered: " + "; ".join(tried), error.hint))
        return False

    def chain(self, auth: str) -> tuple[Any, list[Any]]:
        """(the credential, the links it tries in order): DefaultAzureCredential's own chain, link by link."""
        if self.emulator is not None:  # what the CLI uses with --emulator (see wire.make_client)
            from azure.identity import ManagedIdentityCredential

            cred: Any = ManagedIdentityCredential()
        else:
            from ..auth import make_credential

            cred = make_credential(auth)
        return cred, list(getattr(cred, "credentials", None) or [cred])

    def claims(self, token: str) -> None:
        from ..claims import decode_claims

        claims = decode_claims(token)
        if claims is None:
            self.say(Check(SKIP, "token", "not a JWT: no claims to check"))
            return
        now = time.time()
        text = claims.describe(now)
        if not claims.audience_matches():
            self.say(Check(FAIL, "token", text, f"the audience must be {COGNITIVE_SERVICES_SCOPE[:-9]}: ask for "
                                                f"scope {COGNITIVE_SERVICES_SCOPE}"))
        elif claims.expires_on is not None and claims.expires_on <= now:
            self.say(Check(FAIL, "token", text, "the credential handed out an expired token: check the clock, "
                                                "or `az account clear` and `az login` again"))
        else:
            self.say(Check(PASS, "token", text))

    # -- the call --------------------------------------------------------------------------------------------
    def call(self, settings: Any, operation: str, deployment: str, credential: Any) -> None:
        from ..client import Client
        from ..retry import RetryPolicy

        payload: dict[str, Any] = ({"prompt": "ping", "max_tokens": 1} if operation == "completions" else
                                   {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
        with Client(settings, credential=credential, on_attempt=self.con.hooks) as client:
            try:
                result = client.request("POST", operation, json=payload, deployment=deployment,
                                        retry=RetryPolicy(0))
            except APIStatusError as exc:
                self.status_checks(exc, deployment, settings, getattr(client.auth, "kind", "key"))
                return
            except RestClientError as exc:
                self.say(Check(FAIL, "deployment", f"no answer: {exc.args[0] if exc.args else exc}", exc.hint))
                return
        self.say(Check(PASS, "deployment", f"{deployment} answers: HTTP {result.status_code} in "
                                           f"{result.elapsed * 1000:.0f} ms (request {result.request_id})"))
        self.say(Check(PASS, "api-version", f"{settings.api_version} accepted"))
        self.role_ok(getattr(client.auth, "kind", "key"))
        self.rate_headers(result.headers)

    def role_ok(self, auth_kind: str) -> None:
        if auth_kind == "key":
            self.say(Check(SKIP, "role", "n/a with an api-key"))
        else:
            self.say(Check(PASS, "role", "the identity may call this deployment (HTTP 200)"))

    def status_checks(self, exc: APIStatusError, deployment: str, settings: Any, auth_kind: str) -> None:
        code = f" {exc.code}" if exc.code and exc.code != str(exc.status_code) else ""
        what = f"HTTP {exc.status_code}{code} (request {exc.request_id}): {exc.message}"
        low = (exc.message or "").lower()
        if exc.status_code == 404 and exc.code == "DeploymentNotFound":
            self.say(Check(FAIL, "deployment", what, exc.hint))
        elif exc.status_code in (400, 404) and ("api version" in low or "api-version" in low or exc.code == "404"):
            self.say(Check(SKIP, "deployment", f"{deployment}: not reached"))
            self.say(Check(FAIL, "api-version", f"{settings.api_version} refused: {what}", exc.hint))
        elif exc.status_code == 401 and exc.code == "PermissionDenied":
            self.say(Check(PASS, "deployment", f"{deployment} exists (the service checked the role)"))
            self.say(Check(FAIL, "role", what, f"give the identity the '{OPENAI_USER_ROLE}' role on the resource: "
                                               f"az role assignment create --role '{OPENAI_USER_ROLE}' --assignee "
                                               "YOUR_ID --scope RESOURCE_ID (up to 5 min to apply)"))
        elif exc.status_code in (401, 403):
            self.say(Check(FAIL, "role" if exc.status_code == 403 else "credential accepted", what, exc.hint))
        elif exc.status_code == 429:
            self.say(Check(PASS, "deployment", f"{deployment} exists and is busy: {what}"))
            self.say(Check(PASS, "api-version", f"{settings.api_version} accepted"))
            self.role_ok(auth_kind)
            self.rate_headers(exc.headers)
        else:
            self.say(Check(FAIL, "deployment", what, exc.hint))

    def rate_headers(self, headers: Any) -> None:
        seen = {name: headers.get(name) for name in RATE_HEADERS if headers.get(name) is not None}
        if seen:
            self.say(Check(PASS, "rate-limit headers", ", ".join(f"{k} {v}" for k, v in seen.items())))
        else:
            self.say(Check(FAIL, "rate-limit headers", "none in the answer",
                           "something between you and Azure strips them (a gateway?); bulk then paces on 429s "
                           "alone"))


class _Fixed:
    """A credential that hands out the token doctor already got (so the call does not fetch a second one)."""

    def __init__(self, token: Any) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._token
