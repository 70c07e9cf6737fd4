"""Where a page may send the browser after logging in: a path of this site, nothing else.

Browsers forgive a lot in a URL: they drop tabs, CR and LF anywhere, strip leading and trailing
spaces and control characters, and read backslashes as slashes, so ``/<TAB>/evil.example`` and
``/\\evil.example`` both lead to ``evil.example``. :func:`safe_next` reads the target as a browser
would (:func:`browser_view`), resolves it against an origin of its own, and keeps it only if it
stays there, as a path that cannot be read as another host.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

_ORIGIN = "http://labelloop.invalid"  # only whether a target leaves it matters
_DROPPED = re.compile(r"[\t\n\r]")
_STRIPPED = "".join(chr(c) for c in range(0x21))  # C0 controls and space
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def browser_view(target: str) -> str:
    """``target`` as a browser's URL parser reads it: tabs and newlines removed, leading and
    trailing controls and spaces stripped, backslashes read as slashes."""
    return _DROPPED.sub("", target).strip(_STRIPPED).replace("\\", "/")


def safe_next(target: str | None) -> str:
    """``target`` as a path (with query and fragment) of this site, or ``/``."""
    if not target:
        return "/"
    seen = browser_view(target)
    if not seen.startswith("/") or _CONTROL.search(seen):
        return "/"
    resolved = urlsplit(urljoin(_ORIGIN + "/", seen))
    if f"{resolved.scheme}://{resolved.netloc}" != _ORIGIN:
        return "/"
    path = resolved.path or "/"
    if path.startswith("//"):  # "/.//evil.example" resolves to the path "//evil.example"
        return "/"
    return urlunsplit(("", "", path, resolved.query, resolved.fragment))
