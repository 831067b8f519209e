"""A real browser for the notebook tests: headless Chromium renders a page, takes a screenshot, dumps the DOM.

Why Chromium's own ``--headless --screenshot`` / ``--dump-dom`` and not Selenium: two flags and a subprocess,
no driver to match to the browser's version. Debian's ``chromium`` package (``.ci/run`` installs it); where it
is missing, the tests that need it skip and say so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 90
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
# nbconvert's page loads require.js and MathJax from a CDN; the displays under test use no script, and a CI
# machine may have no network: the page is checked as it renders without them.
_REMOTE_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', re.IGNORECASE)


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def offline(page: str) -> str:
    """The page without scripts fetched from the network."""
    return _REMOTE_SCRIPT.sub("", page)


def _run(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=TIMEOUT)


def screenshot(browser: str, page: Path, png: Path, *, width: int = 1200, height: int = 3000) -> None:
    done = _run(browser, f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri())
    if not png.is_file():
        raise AssertionError(f"{browser} took no screenshot of {page.name}: {done.stderr[-2000:]}")


def dump_dom(browser: str, page: Path) -> str:
    """The DOM after the page loaded, as the browser serialises it (not the file it was given)."""
    done = _run(browser, "--dump-dom", page.as_uri())
    if done.returncode != 0 or "<body" not in done.stdout:
        raise AssertionError(f"{browser} dumped no DOM of {page.name}: {done.stderr[-2000:]}")
    return done.stdout


def ink(png: Path) -> tuple[int, float]:
    """(distinct colours, share of pixels that are not near-white): a rendered page has text and pictures; a
    blank or failed one is a single colour."""
    with Image.open(png) as image:
        pixels = image.convert("RGB").resize((300, 750))
        colours = pixels.getcolors(maxcolors=300 * 750) or []
        inked = sum(count for count, (r, g, b) in colours if min(r, g, b) < 235)
        return len(colours), inked / (300 * 750)
