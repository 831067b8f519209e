"""``python -m rest_client doctor`` against the emulator: all ✔ when healthy, and each failing check made real by
an emulator fault (or setting), each with its fix — through real CLI processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client.emulator import Emulator

PERMISSION_DENIED = {"error": {"code": "PermissionDenied", "message": "The principal `0000` lacks the required data "
                               "action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/"
                               "action` to perform `POST /openai/deployments/{deployment-id}/chat/completions` "
                               "operation."}}
NOT_FOUND = {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}}


@pytest.fixture
def emu():
    with Emulator() as emulator:
        yield emulator


def doctor(emu: Emulator, folder: Path, *argv: str, entra: bool = True, **env_more: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}
    env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_DEPLOYMENT=emu.chat_deployment or "", HOME=str(folder))
    if entra:  # DefaultAzureCredential finds the emulator's managed-identity endpoint, as on App Service
        env.update(emu.identity_env, AZURE_OPENAI_AUTH="default")
    else:
        env.update(AZURE_OPENAI_API_KEY=emu.api_key)
    env.update(env_more)
    proc = subprocess.run([sys.executable, "-m", "rest_client", "doctor", *argv], env=env, cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout.splitlines()


def line(lines: list[str], name: str) -> str:
    return next(text for text in lines if text[2:].startswith(name + ":"))


def test_healthy_emulator_with_entra_passes_every_check(emu, tmp_path) -> None:
    code, lines = doctor(emu, tmp_path)
    assert code == 0 and lines[-1] == "all checks passed", lines
    assert [text[:2] for text in lines[1:-1]] == ["✔ "] * 5 + ["– "] + ["✔ "] * 6
    assert line(lines, "settings").startswith(f"✔ settings: endpoint {emu.endpoint} (from environment variable "
                                              "AZURE_OPENAI_ENDPOINT); api-version 2024-10-21 (from default)")
    assert line(lines, "DNS").startswith("✔ DNS: 127.0.0.1 → 127.0.0.1 (loopback address, ")
    assert line(lines, "proxy") == "✔ proxy: none (direct connection)"
    assert line(lines, "TLS") == "– TLS: n/a (http to 127.0.0.1: plain HTTP, only allowed to a loopback host)"
    cred = line(lines, "credential")
    assert cred.startswith("✔ credential: ManagedIdentityCredential answered in ") and "EnvironmentCredential ✘" in cred
    assert line(lines, "token").startswith("✔ token: aud https://cognitiveservices.azure.com, tenant ")
    assert line(lines, "deployment").startswith(f"✔ deployment: {emu.chat_deployment} answers: HTTP 200 in ")
    assert line(lines, "role") == "✔ role: the identity may call this deployment (HTTP 200)"
    assert line(lines, "rate-limit headers").startswith("✔ rate-limit headers: x-ratelimit-remaining-requests ")
    assert emu.counters["requests"] == 1


def test_with_a_key_and_no_call_sends_nothing(emu, tmp_path) -> None:
    code, lines = doctor(emu, tmp_path, "--no-call", entra=False)
    assert code == 0
    assert line(lines, "credential") == "✔ credential: api-key from environment variable AZURE_OPENAI_API_KEY " \
                                        "(roles do not apply to keys)"
    assert line(lines, "deployment") == "– deployment: not called (--no-call)"
    assert emu.counters["requests"] == 0 and emu.api_key not in "\n".join(lines)


@pytest.mark.parametrize(("fault", "failing", "fix"), [
    ({"status": 404, "body": NOT_FOUND}, "✘ deployment: HTTP 404 DeploymentNotFound",
     "→ no deployment named 'gpt-4o-mini' on this resource"),
    ({"status": 401, "body": PERMISSION_DENIED}, "✘ role: HTTP 401 PermissionDenied",
     "→ give the identity the 'Cognitive Services OpenAI User' role on the resource"),
    ({"status": 403, "body": {"error": {"code": "403", "message": "Public access is disabled. Please configure "
                                                                  "private endpoint."}}},
     "✘ role: HTTP 403", "→ the resource's network rules block this client"),
    ({"status": 200, "body": {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}},
     "✘ rate-limit headers: none in the answer", "→ something between you and Azure strips them"),
    ({"status": 500, "body": {"error": {"code": "InternalServerError", "message": "boom"}}},
     "✘ deployment: HTTP 500 InternalServerError", "→ the service failed"),
])
def test_each_failing_answer_is_one_failing_line_with_its_fix(emu, tmp_path, fault, failing, fix) -> None:
    emu.add_fault("status", **fault)
    code, lines = doctor(emu, tmp_path)
    failed = [text for text in lines if text.startswith("✘")]
    assert code == 1 and len(failed) == 1 and lines[-1] == "1 check(s) failed", lines
    assert failed[0].startswith(failing) and fix in failed[0]


def test_an_unsupported_api_version_fails_its_own_check(emu, tmp_path) -> None:
    code, lines = doctor(emu, tmp_path, "--api-version", "1999-01-01")
    assert code == 1
    assert line(lines, "settings").endswith("api-version 1999-01-01 (from flag --api-version); auth default "
                                            "(from environment variable AZURE_OPENAI_AUTH)")
    assert line(lines, "api-version").startswith("✘ api-version: 1999-01-01 refused: HTTP 400 BadRequest")


def test_an_expired_token_fails_the_token_check_and_the_call(emu, tmp_path) -> None:
    emu.token_lifetime = -60
    code, lines = doctor(emu, tmp_path)
    assert code == 1
    assert line(lines, "token").startswith("✘ token: aud https://cognitiveservices.azure.com")
    assert "EXPIRED" in line(lines, "token") and "→ the credential handed out an expired token" in line(lines, "token")
    assert line(lines, "credential accepted").startswith("✘ credential accepted: HTTP 401")


def test_no_credential_answers(emu, tmp_path) -> None:
    code, lines = doctor(emu, tmp_path, entra=False, AZURE_OPENAI_API_KEY="", AZURE_OPENAI_AUTH="cli",
                         PATH=str(tmp_path))
    assert code == 1
    assert line(lines, "credential").startswith("✘ credential: none answered: AzureCliCredential ✘ ")
    assert "→ install the Azure CLI and run `az login`" in line(lines, "credential")
    assert emu.counters["requests"] == 0


def test_nothing_listening_fails_tcp_and_stops(tmp_path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    fake = type("E", (), {"endpoint": f"http://127.0.0.1:{port}", "chat_deployment": "d", "api_key": "k" * 32})()
    code, lines = doctor(fake, tmp_path, entra=False)  # type: ignore[arg-type]
    assert code == 1 and lines[-2].startswith(f"✘ TCP: cannot connect to 127.0.0.1:{port}")
    assert "→ nothing answers there" in lines[-2]


def test_missing_endpoint_is_a_failing_settings_line(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    proc = subprocess.run([sys.executable, "-m", "rest_client", "doctor"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1].startswith("✘ settings: no endpoint configured")


def test_a_proxy_covered_by_no_proxy_is_named(emu, tmp_path) -> None:
    code, lines = doctor(emu, tmp_path, "--no-call", HTTPS_PROXY="http://user:secret@proxy.invalid:3128",
                         HTTP_PROXY="http://user:secret@proxy.invalid:3128", NO_PROXY="127.0.0.1,localhost")
    assert code == 0
    assert line(lines, "proxy") == "✔ proxy: HTTPS_PROXY is set, but NO_PROXY covers 127.0.0.1: direct connection"
    assert "secret" not in "\n".join(lines)


def test_a_name_that_does_not_resolve_fails_dns(tmp_path) -> None:
    fake = type("E", (), {"endpoint": "https://nothing-here.invalid", "chat_deployment": "d", "api_key": "k" * 32})()
    code, lines = doctor(fake, tmp_path, "--no-call", entra=False)  # type: ignore[arg-type]
    dns = line(lines, "DNS")
    assert code == 1 and dns.startswith("✘ DNS: nothing-here.invalid does not resolve")
    assert "→ check the resource name in the endpoint" in dns


@pytest.fixture
def tls_server(tmp_path):
    """A loopback TLS server with a self-signed certificate for localhost: completes handshakes, answers nothing."""
    import datetime
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Inspecting Proxy Ltd"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://localhost:{listener.getsockname()[1]}", cert_path
    stop.set()
    thread.join(5)
    listener.close()


def test_a_certificate_python_does_not_trust_fails_tls_with_the_ca_bundle_fix(tls_server, tmp_path) -> None:
    endpoint, _ = tls_server
    fake = type("E", (), {"endpoint": endpoint, "chat_deployment": "d", "api_key": "k" * 32})()
    code, lines = doctor(fake, tmp_path, "--no-call", entra=False)  # type: ignore[arg-type]
    tls = line(lines, "TLS")
    assert code == 1 and tls.startswith("✘ TLS: certificate not trusted")
    assert "set REQUESTS_CA_BUNDLE" in tls


def test_a_trusted_but_foreign_issuer_passes_tls_and_names_it(tls_server, tmp_path) -> None:
    endpoint, cert_path = tls_server
    fake = type("E", (), {"endpoint": endpoint, "chat_deployment": "d", "api_key": "k" * 32})()
    _, lines = doctor(fake, tmp_path, "--no-call", entra=False,  # type: ignore[arg-type]
                      REQUESTS_CA_BUNDLE=str(cert_path))
    tls = line(lines, "TLS")
    assert tls.startswith("✔ TLS: TLSv1.") and "issued by Inspecting Proxy Ltd / localhost" in tls
    assert "a TLS-inspecting proxy may sit in between" in tls
