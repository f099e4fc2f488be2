"""Replace secrets in a log line with `[REDACTED]` before anything is stored.

Ordered, named rules (as Drain3 masks), each gated by cheap literal triggers so that an ordinary
line costs one lower-casing and a few substring checks. Every pattern is linear in the line length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import regex

REDACTED = "[REDACTED]"
UNSCANNABLE = "[REDACTED: line could not be scanned for secrets]"

_TIMEOUT = 0.25
# Token-like secrets may not start inside a longer token: this keeps a failed match from being
# retried at every position of a long run, which would make matching quadratic.
_RUN_START = r"(?<![A-Za-z0-9_-])"
_NULLISH = frozenset({"null", "none", "nil", "true", "false", '""', "''", "-"})
_WEAK_KEYS = ("token",)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    triggers: tuple[str, ...]
    pattern: regex.Pattern[str]
    replace: str | Callable[[regex.Match[str]], str]
    also: str = ""

    def applies(self, lowered: str) -> bool:
        if self.also and self.also not in lowered:
            return False
        return any(trigger in lowered for trigger in self.triggers)


def _looks_secret(value: str) -> bool:
    """Tell a credential from a word: it has a digit, or it is too long to be prose."""
    return len(value) >= 20 or (len(value) >= 6 and any(c.isdigit() for c in value))


def _authorization(match: regex.Match[str]) -> str:
    lead: str = match.group("lead")
    scheme: str | None = match.group("scheme")
    return f"{lead}{scheme} {REDACTED}" if scheme else lead + REDACTED


def _bearer(match: regex.Match[str]) -> str:
    whole: str = match.group(0)
    if _looks_secret(match.group("token")):
        return f"{match.group('word')} {REDACTED}"
    return whole


def _key_value(match: regex.Match[str]) -> str:
    whole: str = match.group(0)
    value: str = match.group("value")
    key: str = match.group("key")
    if value.strip("\"'").startswith("[REDACTED") or value.lower() in _NULLISH:
        return whole
    quoted = value[0] in "\"'"
    # "Invalid token: expired" and "token = await f()" are prose and code: a bare value of a
    # token-like key counts only when it is shaped like a credential.
    if not quoted and key.lower().endswith(_WEAK_KEYS) and not _looks_secret(value):
        return whole
    head = whole[: match.start("value") - match.start(0)]
    if quoted:
        return f"{head}{value[0]}{REDACTED}{value[0]}"
    return head + REDACTED


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "authorization-header",
        ("authorization",),
        regex.compile(
            r"(?P<lead>(?<![A-Za-z0-9])(?:proxy-)?authorization[\"']?[ \t]{0,3}[:=][ \t]{0,3}"
            r"[\"']?)(?:(?P<scheme>bearer|basic|token|apikey|api-key|negotiate|ntlm)[ \t]{1,3}"
            r"[^\s\"',;]{1,4096}|[^\"'\n]{1,4096})",
            regex.IGNORECASE,
        ),
        _authorization,
    ),
    _Rule(
        "url-credentials",
        ("://",),
        regex.compile(
            r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@\[\]\"'<>]{0,256}:)"
            r"[^\s/?#\"'<>]{1,256}@"
        ),
        rf"\1{REDACTED}@",
        also="@",
    ),
    _Rule(
        "bearer-token",
        ("bearer",),
        regex.compile(
            r"(?<![A-Za-z0-9_-])(?P<word>bearer)[ \t]{1,3}(?P<token>[A-Za-z0-9\-._~+/]{8,4096}=*)",
            regex.IGNORECASE,
        ),
        _bearer,
    ),
    _Rule(
        "jwt",
        ("eyj",),
        regex.compile(_RUN_START + r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
        REDACTED,
    ),
    _Rule(
        "aws-access-key",
        ("akia", "asia"),
        regex.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        REDACTED,
    ),
    _Rule(
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        regex.compile(
            _RUN_START + r"(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})"
        ),
        REDACTED,
    ),
    _Rule(
        "slack-token",
        ("xox",),
        regex.compile(_RUN_START + r"xox[abposr]-[A-Za-z0-9-]{10,255}"),
        REDACTED,
    ),
    _Rule(
        "slack-webhook",
        ("hooks.slack.com/",),
        regex.compile(
            r"(hooks\.slack\.com/(?:(?:services|workflows|triggers)/)?)[^\s\"'<>()\[\]]{1,1024}",
            regex.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    _Rule(
        "stripe-key",
        ("k_live_", "k_test_"),
        regex.compile(_RUN_START + r"[sr]k_(?:live|test)_[A-Za-z0-9]{8,255}"),
        REDACTED,
    ),
    _Rule(
        "key-value",
        (
            "pass",
            "pwd",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "access_key",
            "access-key",
            "accesskey",
            "private_key",
            "private-key",
        ),
        regex.compile(
            # The key only has to END in a trigger word (DB_PASSWORD, refresh_token, X-Api-Key),
            # so the match starts at that word and the name's prefix is left as it is.
            r"(?P<key>password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
            r"|private[_-]?key|secret[_-]?key)[\"']?"
            r"(?P<sep>[ \t]{0,3}[:=][ \t]{0,3})"
            r"(?P<value>\"(?:[^\"\\\n]|\\.){0,4096}\"?|'(?:[^'\\\n]|\\.){0,4096}'?"
            r"|[^\s\"'&,;})\]]{1,4096})",
            regex.IGNORECASE,
        ),
        _key_value,
    ),
)

RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in _RULES)
_ALL_TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(t for rule in _RULES for t in rule.triggers))


def redact(text: str) -> str:
    """Return the line with every recognised secret replaced by `[REDACTED]`."""
    lowered = text.lower()
    for trigger in _ALL_TRIGGERS:
        if trigger in lowered:
            break
    else:
        return text
    for rule in _RULES:
        if not rule.applies(lowered):
            continue
        try:
            text = str(rule.pattern.sub(rule.replace, text, timeout=_TIMEOUT))
        except TimeoutError:
            # Fail closed: a line we could not scan may hold a secret, so none of it is kept.
            return UNSCANNABLE
    return text
