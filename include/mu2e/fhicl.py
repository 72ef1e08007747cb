"""A small FHiCL reader for the configurations this production writes (and the stand-in reads).

Supports tables ``{ }``, sequences ``[ ]``, quoted strings, numbers, booleans, ``nil``, comments
(``#`` and ``//``) and dotted overrides at top level (``source.subRun: 3``), applied in order.
``#include`` and ``@local::`` references are not supported (an error, not silently ignored).
"""

from __future__ import annotations

import re
from typing import Any

from include.core.errors import InputFileError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>(?:\#|//)[^\n]*) |
        (?P<string>"(?:[^"\\]|\\.)*") |
        (?P<punct>[{}\[\]:,]) |
        (?P<atom>[^\s{}\[\]:,"]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str, source: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise InputFileError(source, f"FHiCL syntax error near {text[pos : pos + 30]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "comment":
            if value.startswith("#include"):
                raise InputFileError(source, "#include is not supported by this reader")
            continue
        out.append((kind, value))
    return out


def _atom(value: str, source: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    if value == "nil":
        return None
    if value.startswith("@"):
        raise InputFileError(source, f"{value!r}: @-references are not supported by this reader")
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value  # bare word (e.g. a module label in a path)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], source: str):
        self.tokens, self.i, self.source = tokens, 0, source

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise InputFileError(self.source, f"FHiCL: expected {expected or 'a value'}, found {token}")
        self.i += 1
        return token

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if text == "{":
            return self.table("}")
        if text == "[":
            items = []
            while self.peek() and self.peek()[1] != "]":
                items.append(self.value())
                if self.peek() and self.peek()[1] == ",":
                    self.take(",")
            self.take("]")
            return items
        if kind == "atom":
            return _atom(text, self.source)
        raise InputFileError(self.source, f"FHiCL: unexpected {text!r}")

    def table(self, end: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.peek() is not None and (end is None or self.peek()[1] != end):
            kind, key = self.take()
            if kind != "atom":
                raise InputFileError(self.source, f"FHiCL: expected a name, found {key!r}")
            self.take(":")
            set_dotted(out, key, self.value())
        if end is not None:
            self.take(end)
        return out


def set_dotted(table: dict[str, Any], key: str, value: Any) -> None:
    """``table["a"]["b"] = value`` for ``key = "a.b"`` (creating tables on the way)."""
    parts = key.split(".")
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise ValueError(f"{key}: {part} is not a table")
    table[parts[-1]] = value


def loads(text: str, source: str = "<fcl>") -> dict[str, Any]:
    """Parse FHiCL text into nested dicts and lists."""
    return _Parser(_tokens(text, source), source).table(None)


def dumps_value(value: Any) -> str:
    """One FHiCL value (strings quoted, lists and tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + " ".join(f"{k}: {dumps_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        return "nil"
    return str(value)
