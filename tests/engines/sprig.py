"""The part of Sprig's function map that Argo puts under `sprig` in `{{=...}}` expressions.

Argo builds the expression env in util/expr/env/env.go `GetFuncMap`
(https://github.com/argoproj/argo-workflows/blob/main/util/expr/env/env.go): `sprig` is
`sprig.GenericFuncMap()` minus `env`/`expandenv`, beside `toJson`, `jsonpath`, `asInt`, `asFloat`.
The functions here follow https://github.com/Masterminds/sprig/blob/master/crypto.go (`sha1sum`,
`sha256sum`, `sha512sum`, `adler32sum`: hex digests of the string's UTF-8 bytes; adler32 as
decimal) and strings.go / functions.go (`b64enc`, `b64dec`, `upper`, `lower`, `trim`, `quote`).
Only what tether's manifests can emit is covered; an unknown name is an expr-lang error.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any, Callable, Mapping

__all__ = ["SPRIG"]


def _digest(algorithm: str) -> Callable[[str], str]:
    return lambda text: hashlib.new(algorithm, text.encode()).hexdigest()


SPRIG: Mapping[str, Callable[..., Any]] = {
    "sha1sum": _digest("sha1"),
    "sha256sum": _digest("sha256"),
    "sha512sum": _digest("sha512"),
    "adler32sum": lambda text: str(zlib.adler32(text.encode())),
    "b64enc": lambda text: base64.b64encode(text.encode()).decode(),
    "b64dec": lambda text: base64.b64decode(text.encode()).decode(errors="replace"),
    "upper": lambda text: text.upper(),
    "lower": lambda text: text.lower(),
    "trim": lambda text: text.strip(" \t\n\r\v\f"),
}
