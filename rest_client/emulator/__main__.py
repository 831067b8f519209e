"""``python -m rest_client.emulator``: run the emulator in the foreground until Ctrl-C.

Prints the endpoint, the api key and copy-paste ``export`` lines. The key is printed on purpose: it is a
local throwaway that only this process accepts, and the user needs it for the exports.

Stopping: Ctrl-C, ``kill -INT`` and ``kill -TERM`` all stop it cleanly. The SIGINT handler is installed
explicitly because Python installs its own only when SIGINT is not ignored at start, and a shell starts a
background job (``python -m rest_client.emulator &``), like some CI runners start their steps, with SIGINT
ignored: without it such an emulator would shrug off ``kill -INT`` and Ctrl-C from a test harness.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from typing import Any

from .deployments import KINDS, Deployment, check_daily_quota, check_share, default_deployments
from .emulator import Emulator
from .modes import Modes
from .ratelimit import RATE_LIMIT_PROFILES

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C / kill -INT, and kill / docker stop / CI cancel


def _deployment(spec: str) -> Deployment:
    """``NAME[:KIND[:MODEL]]``, e.g. ``gpt-4o:chat``, ``my-instruct:completions:gpt-35-turbo-instruct`` or
    ``gpt-4o-mini-batch:batch:gpt-4o-mini``."""
    name, kind, model = ([*spec.split(":", 2), "", ""])[:3]
    try:
        return Deployment(name, model or name, kind or "chat")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _latency(text: str) -> float:
    """Seconds, checked as ``Deployment`` checks them, so a bad value is a usage error, not a traceback."""
    try:
        value = float(text)
        Deployment("check", "check", latency=value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _share(text: str) -> float:
    """A background-load share, checked as the emulator checks it (a usage error, not a traceback)."""
    try:
        return check_share(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _daily_quota(text: str) -> int:
    try:
        quota = int(text)
        check_daily_quota(quota)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"daily quota must be a whole number of requests >= 0, not {text!r}") from exc
    return quota


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rest_client.emulator",
        description="An Azure OpenAI look-alike on loopback for offline demos and tests (not Azure).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one, printed at start)")
    parser.add_argument("--api-key", help="the key clients must send (default: random)")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="managed-identity token lifetime, s")
    parser.add_argument("--region", default="East US", help="value of the x-ms-region header")
    parser.add_argument("--seed", type=int, default=0, help="seed mixed into every generated text")
    parser.add_argument("--stream-delay", type=float, default=0.0, help="seconds between stream events")
    parser.add_argument(
        "--deployment",
        action="append",
        type=_deployment,
        metavar="NAME[:KIND[:MODEL]]",
        help=f"a deployment (repeatable; KIND one of {', '.join(KINDS)}); replaces the defaults",
    )
    parser.add_argument("--rpm", type=int, help="requests per minute for every deployment")
    parser.add_argument("--tpm", type=int, help="tokens per minute for every deployment")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window in seconds (default 60)")
    parser.add_argument("--latency", type=_latency, default=0.0,
                        help="seconds each admitted request takes before its answer, as a model generating (default 0)")
    parser.add_argument(
        "--rate-limit-headers", choices=RATE_LIMIT_PROFILES, default="full",
        help="rate-limit headers answers carry: full (limit-*, remaining-*, retry-after-ms), remaining "
        "(remaining-*, integer retry-after), message (429s say the wait only in their message text), foundry "
        "(limit/remaining -1, reset 0, 429s with no wait at all)",
    )
    parser.add_argument(
        "--background-load", type=_share, default=0.0, metavar="SHARE",
        help="another consumer spends this share (0 <= SHARE < 1) of each deployment's requests and tokens, "
        "spread over the window: answers show less remaining than your own sends explain (default 0)",
    )
    parser.add_argument(
        "--daily-quota", type=_daily_quota, metavar="N",
        help="after N answered requests a deployment answers every call with 429 'Please retry after 86400 "
        "seconds' until POST /_emulator/daily-quota/reset (default: no daily quota)",
    )
    parser.add_argument(
        "--batch-lines-per-second", type=float, help="pace of batch jobs' in_progress phase (default 500)"
    )
    parser.add_argument(
        "--mode", action="append", choices=MODE_FLAGS, default=[],
        help="configure the resource as Azure can be (repeatable): missing-role (tokens get 401 PermissionDenied), "
        "key-auth-disabled (keys get 403), network-rules (403 firewall), async-filter (annotation chunks after "
        "a stream's finish), no-validation (accept what the service refuses)",
    )
    parser.add_argument("--flag-word", action="append", default=[], metavar="WORD",
                        help="with --mode async-filter: annotate sentences with WORD as filtered (repeatable)")
    parser.add_argument("--gateway-key", metavar="KEY", help="gateway mode: require this APIM subscription key")
    parser.add_argument("--gateway-prefix", metavar="PATH", default="", help="gateway mode: API path prefix")
    parser.add_argument("-v", "--verbose", action="store_true", help="print one line per request")
    return parser


MODE_FLAGS = ("missing-role", "key-auth-disabled", "network-rules", "async-filter", "no-validation")


def _modes(args: argparse.Namespace) -> dict[str, Any]:
    """``--mode``/``--flag-word`` as ``Emulator(modes=…)``."""
    modes: dict[str, Any] = {name.replace("-", "_"): True for name in args.mode if name != "no-validation"}
    if "no-validation" in args.mode:
        modes["validation"] = False
    if args.flag_word:
        modes["flagged_words"] = args.flag_word
    return modes


def _print_request(entry: dict[str, Any]) -> None:
    status = entry["status"] if entry["status"] is not None else "reset"
    extras = " ".join(f"{key}={entry[key]}" for key in ("deployment", "auth", "fault") if entry.get(key))
    print(f"{entry['method']} {entry['path']} → {status} {entry['duration_ms']:.1f} ms {extras}".rstrip(), flush=True)


def _print_banner(emu: Emulator) -> None:
    print(f"rest_client emulator (not Azure) listening on {emu.endpoint}")
    print(f"  api key:      {emu.api_key}")
    for deployment in emu.deployments.values():
        print(f"  deployment:   {deployment.describe()}")
    print(f"  control:      {emu.endpoint}/_emulator")
    defaults = Modes().to_dict()
    changed = {k: v for k, v in emu.modes.to_dict().items() if v != defaults[k]}
    if changed:
        print(f"  modes:        {', '.join(f'{k}={v}' for k, v in changed.items())}")
    if emu.background_load:
        print(f"  shared:       another consumer spends {emu.background_load:.0%} of each deployment's quota")
    if emu.daily_quota is not None:
        print(f"  daily quota:  {emu.daily_quota} requests per deployment, then 429 for 86400 s")
    print("\n# key auth")
    print(f"export AZURE_OPENAI_ENDPOINT={emu.endpoint}")
    print(f"export AZURE_OPENAI_API_KEY={emu.api_key}")
    if emu.chat_deployment:
        print(f"export AZURE_OPENAI_DEPLOYMENT={emu.chat_deployment}")
    if emu.completions_deployment:
        print(f"export AZURE_OPENAI_COMPLETIONS_DEPLOYMENT={emu.completions_deployment}")
    print("# keyless instead: DefaultAzureCredential gets tokens from the emulator (unset AZURE_OPENAI_API_KEY)")
    for name, value in emu.identity_env.items():
        print(f"export {name}={value}")
    print("\nPress Ctrl-C to stop.", flush=True)


def _stop_serving(signum: int, frame: object) -> None:
    """SIGINT and SIGTERM: leave the serving loop the way Ctrl-C does, whatever the inherited disposition was."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    deployments = args.deployment or default_deployments()
    if args.latency:
        deployments = [dataclasses.replace(d, latency=args.latency) for d in deployments]
    if args.rpm is not None or args.tpm is not None or args.window != 60.0:
        deployments = [  # batch deployments have an enqueued-token quota instead of RPM/TPM
            d
            if d.is_batch
            else dataclasses.replace(
                d,
                rpm=args.rpm if args.rpm is not None else d.rpm,
                tpm=args.tpm if args.tpm is not None else d.tpm,
                window=args.window,
            )
            for d in deployments
        ]
    try:
        emu = Emulator(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            deployments=deployments,
            token_lifetime=args.token_lifetime,
            region=args.region,
            seed=args.seed,
            stream_delay=args.stream_delay,
            rate_limit_headers=args.rate_limit_headers,
            background_load=args.background_load,
            daily_quota=args.daily_quota,
            on_request=_print_request if args.verbose else None,
            batch_settings=(
                {"lines_per_second": args.batch_lines_per_second} if args.batch_lines_per_second is not None else None
            ),
            modes=_modes(args),
            gateway={"subscription_key": args.gateway_key, "prefix": args.gateway_prefix} if args.gateway_key else None,
        ).start()
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the emulator on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    previous: dict[signal.Signals, Any] = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, _stop_serving)
        _print_banner(emu)
        while True:
            time.sleep(3600)  # a signal interrupts the sleep and its handler raises KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():  # as they were: main() may be called from a program
            if handler is not None:  # None: set outside Python, cannot be put back from here
                signal.signal(signum, handler)
        emu.stop()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
