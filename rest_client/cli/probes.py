"""The network half of ``doctor``: DNS, proxy, TCP and TLS, each measured on its own (stdlib sockets).

Why not just send a request: when a call fails, "cannot reach" hides four different faults — a name that
resolves to a public address while the resource only allows its private endpoint, a proxy (or a NO_PROXY that
does not cover the host), a firewall that drops the SYN, and a TLS-inspecting proxy whose certificate Python
does not trust. Each probe returns a ``Check``; none raises.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PASS, FAIL, SKIP = "✔", "✘", "–"


@dataclass(frozen=True)
class Check:
    """One doctor line: a mark (✔ pass, ✘ fail, – not checked), what was checked, what was found, the fix."""

    mark: str
    name: str
    detail: str
    fix: str | None = None

    @property
    def failed(self) -> bool:
        return self.mark == FAIL

    def line(self) -> str:
        text = f"{self.mark} {self.name}: {self.detail}"
        return f"{text} → {self.fix}" if self.fix else text


def host_port(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def check_dns(endpoint: str) -> tuple[Check, list[str]]:
    host, port = host_port(endpoint)
    t0 = time.perf_counter()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return Check(FAIL, "DNS", f"{host} does not resolve ({exc})",
                     "check the resource name in the endpoint; for a private endpoint, link the private DNS zone "
                     "privatelink.openai.azure.com to your network (or add a hosts entry)"), []
    ms = (time.perf_counter() - t0) * 1000
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    kinds = {_kind(a) for a in addresses}
    what = " and ".join(sorted(kinds))
    return Check(PASS, "DNS", f"{host} → {', '.join(addresses[:4])} ({what} address, {ms:.0f} ms)"), addresses


def _kind(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.is_loopback:
        return "loopback"
    return "private (a private endpoint or VNet)" if ip.is_private else "public"


def check_proxy(endpoint: str) -> tuple[Check, str | None]:
    """The proxy requests will use for the endpoint (HTTP(S)_PROXY minus NO_PROXY), credentials hidden."""
    import requests

    host, _ = host_port(endpoint)
    proxies = requests.utils.get_environ_proxies(endpoint)
    scheme = urlsplit(endpoint).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    set_names = [n for n in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
                 if os.environ.get(n)]
    if proxy:
        return Check(PASS, "proxy", f"{_hide_password(proxy)} (NO_PROXY does not cover {host}; the calls go through "
                                    "it)"), proxy
    if set_names:
        return Check(PASS, "proxy", f"{set_names[0]} is set, but NO_PROXY covers {host}: direct connection"), None
    return Check(PASS, "proxy", "none (direct connection)"), None


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_tcp(endpoint: str, proxy: str | None, timeout: float) -> Check:
    host, port = host_port(proxy or endpoint)
    where = f"proxy {host}:{port}" if proxy else f"{host}:{port}"
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return Check(FAIL, "TCP", f"cannot connect to {where} ({exc})",
                     "nothing answers there: check the endpoint, VPN, firewall or proxy")
    return Check(PASS, "TCP", f"connected to {where} in {(time.perf_counter() - t0) * 1000:.0f} ms")


def check_tls(endpoint: str, proxy: str | None, timeout: float) -> Check:
    parts = urlsplit(endpoint)
    host, port = host_port(endpoint)
    if parts.scheme != "https":
        return Check(SKIP, "TLS", f"n/a (http to {host}: plain HTTP, only allowed to a loopback host)")
    if proxy:
        return Check(SKIP, "TLS", "n/a through a proxy (the call below goes through it)")
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:  # what requests verifies with (certifi's bundle)
        from requests.utils import DEFAULT_CA_BUNDLE_PATH

        bundle = DEFAULT_CA_BUNDLE_PATH
    try:
        context = ssl.create_default_context(cafile=bundle)
        t0 = time.perf_counter()
        with socket.create_connection((host, port), timeout=timeout) as sock:
            t1 = time.perf_counter()
            with context.wrap_socket(sock, server_hostname=host) as tls:
                ms = (time.perf_counter() - t1) * 1000
                cert: Any = tls.getpeercert() or {}
                version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        return Check(FAIL, "TLS", f"certificate not trusted: {exc.verify_message or exc}",
                     "a TLS-inspecting proxy signs with its own CA: set REQUESTS_CA_BUNDLE to a bundle that "
                     "includes it")
    except (OSError, ssl.SSLError) as exc:
        return Check(FAIL, "TLS", f"handshake with {host} failed ({exc})", "check the endpoint and any proxy")
    issuer = {k: v for rdn in cert.get("issuer", ()) for k, v in rdn}
    name = issuer.get("organizationName", "?") + " / " + issuer.get("commonName", "?")
    note = "" if any(w in name for w in ("Microsoft", "DigiCert")) else \
        " — not a Microsoft or DigiCert CA: a TLS-inspecting proxy may sit in between"
    return Check(PASS, "TLS", f"{version} handshake in {ms:.0f} ms (TCP {(t1 - t0) * 1000:.0f} ms); certificate "
                              f"issued by {name}{note}")
