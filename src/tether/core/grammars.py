"""Building the lark parsers of the type and expression languages, fast on every start.

Analysing a grammar into LALR tables costs 35-75 ms per grammar, more than the rest of
`tether check` on a small spec. lark can keep the tables in a cache file; its default location
is the shared temporary directory, where another local user could plant the (pickled) file.
We keep it in the user's own cache directory instead (`$XDG_CACHE_HOME/tether`, mode 0700),
named by lark version and grammar hash, and do without a cache when that directory is unusable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


def cache_dir() -> Path | None:
    """The user-private directory for parser tables, or None when it cannot be used."""
    if os.environ.get("TETHER_NO_GRAMMAR_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "tether"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    private = (info.st_mode & 0o077) == 0
    return path if owned and private and os.access(path, os.W_OK) else None


def build_lalr(grammar: str, **options: Any) -> Any:
    """A lark LALR parser for `grammar`, with its tables cached where that is safe."""
    import lark

    directory = cache_dir()
    cache: str | bool = False
    if directory is not None:
        key = hashlib.sha256(repr((grammar, sorted(options.items()))).encode()).hexdigest()[:16]
        cache = str(directory / f"lark-{lark.__version__}-{key}.tables")
    return lark.Lark(grammar, parser="lalr", cache=cache, **options)
