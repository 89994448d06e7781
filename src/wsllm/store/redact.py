"""Secrets out of a config before it is stored: a stored run is read by the viewer, exported and
shared, so it must not carry keys.

What goes: every value under an `env` mapping; the value of an auth-like header or field
(Authorization, Cookie, X-Api-Key, anything named *secret* or *password*); a token-like value
(long, no spaces) under a name with *key* or *token* in it; and, in any string, what looks like a
key (`sk-...`, `Bearer <token>`, a password in a URL, a `?token=` or `?api_key=` in a URL).
A value that is only a template (`{{ env.API_KEY }}`) holds no secret and is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "[redacted]"

_ALWAYS = re.compile(
    r"^(proxy-)?authorization$|cookie|api[-_]?key|auth[-_]?token|access[-_]?token|secret|"
    r"passw(or)?d|credential|private[-_]?key|^x-.*-(key|token)$",
    re.IGNORECASE,
)
_IF_TOKEN_LIKE = re.compile(r"key|token|auth|session|signature", re.IGNORECASE)
_NAMES_A_PLACE = re.compile(r"(envar|env|name|path|file|url)$", re.IGNORECASE)  # not the secret
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-.+/=:~]{16,}$")
_TEMPLATE_ONLY = re.compile(r"^\s*(\w+\s+)?\{\{[^{}]*\}\}\s*$")
_SCHEME = re.compile(r"^(Bearer|Basic|Token|Bot)\s+", re.IGNORECASE)
_IN_TEXT = (
    (re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-]{16,}"), REDACTED),
    (re.compile(r"\b(ghp|gho|ghs|ghu|glpat)[_-][A-Za-z0-9_\-]{16,}"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), REDACTED),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), REDACTED),
    (re.compile(r"\b(Bearer|Basic)\s+(?!\{\{)[A-Za-z0-9._~+/=\-]{12,}"), r"\1 " + REDACTED),
    (re.compile(r"(\w+://[^/\s:@]+:)(?!\{\{)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    (
        re.compile(
            r"([?&](api[_-]?key|key|token|access_token|auth|secret|password|sig|signature)=)"
            r"(?!\{\{)[^&#\s\"']+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
)


def redact(value: Any, name: str = "") -> Any:
    """A copy of `value` (a config, or any part of one) with its secrets replaced by [redacted]."""
    if isinstance(value, dict):
        if name.lower() == "env":
            return {k: _hidden(v) for k, v in value.items()}
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, name) for item in value]
    if isinstance(value, str):
        return _redact_text(value, name)
    if isinstance(value, int | float) and not isinstance(value, bool) and _secret_name(name):
        return REDACTED
    return value


def redact_json(text: str | None) -> str | None:
    """A stored config (JSON text) redacted; text that is not JSON is returned as it is."""
    if not text:
        return text
    try:
        config = json.loads(text)
    except ValueError:
        return text
    return json.dumps(redact(config), ensure_ascii=False)


def _hidden(value: Any) -> Any:
    if value is None or value == "" or (isinstance(value, str) and _TEMPLATE_ONLY.match(value)):
        return value
    if isinstance(value, dict | list):
        return redact(value, "env")
    return REDACTED


def _redact_text(text: str, name: str) -> str:
    if not text or _TEMPLATE_ONLY.match(text):
        return text
    if _secret_name(name) or (_keyish_name(name) and _TOKEN_LIKE.match(text)):
        scheme = _SCHEME.match(text)
        return (scheme.group(0) if scheme else "") + REDACTED
    for pattern, replacement in _IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _secret_name(name: str) -> bool:
    return bool(_ALWAYS.search(name)) and not _NAMES_A_PLACE.search(name)


def _keyish_name(name: str) -> bool:
    return bool(_IF_TOKEN_LIKE.search(name)) and not _NAMES_A_PLACE.search(name)
