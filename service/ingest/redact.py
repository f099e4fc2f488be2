"""Replace secrets in a log line with `[REDACTED]` before anything is stored.

Ordered, named rules (as Drain3 masks), each gated by literal triggers found in one pass over
the line (`LiteralGate`), so that an ordinary line costs about one `str.lower`; for a batch,
`lines_to_redact` finds in one pass the few lines `redact` could change. Every pattern is linear
in the line length. A private key spans lines: `redact_key_blocks` carries what one line
cannot see to the next.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import regex

from service.ingest.literals import JoinedLines, LiteralGate, PatternGate
from service.ingest.records import LogRecord
from service.ingest.vendor_tokens import VENDOR_TOKENS

REDACTED = "[REDACTED]"
UNSCANNABLE = "[REDACTED: line could not be scanned for secrets]"

_TIMEOUT = 0.25
# Token-like secrets may not start inside a longer token: this keeps a failed match from being
# retried at every position of a long run, which would make matching quadratic.
_RUN_START = r"(?<![A-Za-z0-9_-])"
_NULLISH = frozenset({"null", "none", "nil", "true", "false", '""', "''", "-"})
_WEAK_KEYS = ("token", "session", "sessid", "sessionid", "session_id", "session-id")
# gitleaks' private-key rule: `-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`.
_KEY_BEGIN = r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_KEY_END = r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
# The key names of the `key-value` rule (a name only has to end in one: DB_PASSWORD).
_KEY_NAMES = (
    r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key"
    r"|private[_-]?key|secret[_-]?key|sess(?:ion)?[_-]?id"
)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    triggers: tuple[str, ...]
    pattern: regex.Pattern[str]
    replace: str | Callable[[regex.Match[str]], str]
    also: str = ""


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


def _vendor_rule(name: str, triggers: tuple[str, ...], shape: str) -> _Rule:
    # A token ends where its character run ends: a token longer than the vendor's usual length
    # is replaced whole, not cut with its tail kept.
    pattern = regex.compile(rf"{_RUN_START}(?:{shape})[\w+/=-]{{0,512}}")
    return _Rule(name, triggers, pattern, REDACTED)


_RULES: tuple[_Rule, ...] = (
    _Rule(
        # A key whose BEGIN and END arrive on one line (a JSON string with `\n` escapes), or
        # whose body follows on the same line: everything after BEGIN up to an END goes.
        "private-key",
        ("-----begin",),
        regex.compile(rf"({_KEY_BEGIN})(?:(?!-----END)[^\n]){{1,65536}}", regex.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    _Rule(
        # The tail of a key's body on its END line (the BEGIN came on an earlier line).
        "private-key-end",
        ("-----end",),
        regex.compile(
            rf"(?<![A-Za-z0-9+/=\\])[A-Za-z0-9+/=\\]{{1,65536}}(?={_KEY_END})", regex.IGNORECASE
        ),
        REDACTED,
    ),
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
        # Every cookie of the header goes: session ids are named anything (sessionid, sid,
        # _myapp_session, connect.sid), so no list of names would be complete.
        "cookie-header",
        ("cookie",),
        regex.compile(
            r"((?<![A-Za-z0-9_-])(?:set-)?cookie[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?)"
            r"[^\"'\n]{1,8192}",
            regex.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    _Rule(
        # The password may hold `#`, `?` and `@` (URL-unsafe, but written so in real connection
        # strings); it ends at the last `@` before the host.
        "url-credentials",
        ("://",),
        regex.compile(
            r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@\[\]\"'<>]{0,256}:)"
            r"[^\s/\"'<>]{1,256}@"
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
    *(_vendor_rule(name, triggers, shape) for name, triggers, shape in VENDOR_TOKENS),
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
        "discord-webhook",
        ("/api/webhooks/",),
        regex.compile(r"(/api/webhooks/[0-9]{5,30}/)[\w-]{10,512}"),
        rf"\1{REDACTED}",
    ),
    _Rule(
        # detect-secrets' AzureStorageKeyDetector: a shared access signature's `sig=`.
        "azure-sas",
        ("sig=",),
        regex.compile(r"((?<![A-Za-z0-9_])sig=)[^\s&\"'<>;]{10,1024}", regex.IGNORECASE),
        rf"\1{REDACTED}",
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
            "accountkey",
            "account_key",
            "account-key",
            "private_key",
            "private-key",
            "sessionid",
            "session_id",
            "session-id",
            "sessid",
        ),
        regex.compile(
            # The key only has to END in a trigger word (DB_PASSWORD, refresh_token, X-Api-Key,
            # SharedAccessKey), so the match starts at that word and the name's prefix is kept.
            rf"(?P<key>{_KEY_NAMES})[\"']?(?P<sep>[ \t]{{0,3}}[:=][ \t]{{0,3}})"
            r"(?P<value>\"(?:[^\"\\\n]|\\.){0,4096}\"?|'(?:[^'\\\n]|\\.){0,4096}'?"
            r"|[^\s\"'&,;})\]]{1,4096})",
            regex.IGNORECASE,
        ),
        _key_value,
    ),
)

RULE_NAMES: tuple[str, ...] = (*(rule.name for rule in _RULES), "key-body")
_GATE = LiteralGate([rule.triggers for rule in _RULES])
_KEY_VALUE = next(index for index, rule in enumerate(_RULES) if rule.name == "key-value")
_URL_CREDENTIALS = next(i for i, rule in enumerate(_RULES) if rule.name == "url-credentials")
_NARROWABLE = frozenset({_KEY_VALUE, _URL_CREDENTIALS})
# What every `key-value` match starts with: its key, an optional quote, its separator.
_KEY_VALUE_GATE = PatternGate(rf"(?:{_KEY_NAMES})[\"']?[ \t]{{0,3}}[:=]")

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
# A PEM body line is 64 characters, an OpenSSH one 70; 40 keeps room for a shorter wrap.
_BLOB_MIN = 40
# detect-secrets' Base64HighEntropyString limit: random base64 of this length scores ~4.9-5.2,
# paths, words and hex digests below it.
_BLOB_ENTROPY = 4.5


# Base64 characters as one byte, everything else (UTF-8 lead and continuation bytes too) as
# another: a key body's run of base64 is then found by one C-speed search of the batch.
_BLOB_TABLE = bytes(ord("a") if chr(byte) in _BASE64 else ord(" ") for byte in range(256))
_BLOB_NEEDLE = b"a" * _BLOB_MIN


def lines_to_redact(lines: Sequence[str]) -> set[int]:
    """Return the indices of the lines that `redact` could change; it leaves the others as they are.

    Those are the lines holding a rule's trigger (one scan of the batch) or a run of base64 long
    enough to be a key's body line (one search of the batch).
    """
    if not lines:
        return set()
    joined = JoinedLines(lines)
    flagged = _narrowed(joined, _GATE.groups_by_line(joined))
    shapes = joined.data.translate(_BLOB_TABLE)
    start = shapes.find(_BLOB_NEEDLE)
    while start >= 0:
        flagged.add(joined.line_starting_at(start))
        run_end = shapes.find(b" ", start)
        if run_end < 0:
            break
        start = shapes.find(_BLOB_NEEDLE, run_end)
    return flagged


def _narrowed(joined: JoinedLines, found: dict[int, set[int]]) -> set[int]:
    """Return the lines whose triggers `redact` would act on (`found`: their rules' groups).

    A line whose only rules are `url-credentials` without an `@` (as `redact` skips it) or
    `key-value` without a key followed by `:` or `=` (on an ASCII line, where the rule's case
    folding is hyperscan's) cannot change; neither rule's replacement makes a match of the other.
    """
    flagged: set[int] = set()
    key_value_lines: set[int] | None = None
    for index, groups in found.items():
        if not groups <= _NARROWABLE:
            flagged.add(index)
            continue
        line = joined.lines[index]
        if _URL_CREDENTIALS in groups and "@" in line:
            flagged.add(index)
        elif _KEY_VALUE in groups:
            if key_value_lines is None:
                key_value_lines = _KEY_VALUE_GATE.lines_with(joined)
            if key_value_lines is None or index in key_value_lines or not line.isascii():
                flagged.add(index)
    return flagged


def redact(text: str) -> str:
    """Return the line with every recognised secret replaced by `[REDACTED]`."""
    for index in _GATE.groups_in(text):
        rule = _RULES[index]
        if rule.also and rule.also not in text:
            continue
        try:
            text = str(rule.pattern.sub(rule.replace, text, timeout=_TIMEOUT))
        except TimeoutError:
            # Fail closed: a line we could not scan may hold a secret, so none of it is kept.
            return UNSCANNABLE
    return _redact_blob_tail(text)


def _redact_blob_tail(text: str) -> str:
    """Replace a line's last word when it is a long high-entropy base64 run (a key body line).

    A private key's body lines carry no marker of their own; this catches them one line at a
    time, also when the BEGIN line came in another batch.
    """
    if len(text) < _BLOB_MIN:
        return text
    end = len(text.rstrip())
    if end < _BLOB_MIN or text[end - _BLOB_MIN : end].strip(_BASE64):
        return text
    start = end - _BLOB_MIN
    while start > 0 and text[start - 1] in _BASE64:
        start -= 1
    word = text[start:end]
    if not _mixed(word) or _entropy(word) < _BLOB_ENTROPY:
        return text
    return text[:start] + REDACTED + text[end:]


def _mixed(word: str) -> bool:
    return (
        any(c.isupper() for c in word)
        and any(c.islower() for c in word)
        and any(c.isdigit() for c in word)
    )


def _entropy(word: str) -> float:
    size = len(word)
    return -sum(n / size * math.log2(n / size) for n in Counter(word).values())


_BEGIN_LINE = regex.compile(_KEY_BEGIN, regex.IGNORECASE)
_END_LINE = regex.compile(_KEY_END, regex.IGNORECASE)
# The longest private key body seen in practice (RSA 16384, PEM) is under 150 lines.
_MAX_KEY_LINES = 400


def redact_key_blocks(records: Sequence[LogRecord]) -> list[LogRecord]:
    """Redact the body lines between a private key's BEGIN and END lines, per instance.

    Records are lines, so a key printed to a log arrives as one record per line: its BEGIN line
    is redacted by `redact`, and the lines after it are body lines until the END line.
    """
    if not any("-----" in record.message for record in records):
        return list(records)
    out: list[LogRecord] = []
    left: dict[str, int] = {}
    for record in records:
        message, instance = record.message, record.instance
        if "-----" in message:
            try:
                begin = _BEGIN_LINE.search(message, timeout=_TIMEOUT)
                end = _END_LINE.search(message, begin.end() if begin else 0, timeout=_TIMEOUT)
            except TimeoutError:
                # Fail closed: a line that could not be scanned may be a key's first line.
                left[instance] = _MAX_KEY_LINES
                out.append(msgspec.structs.replace(record, message=UNSCANNABLE))
                continue
            if end is not None:
                left.pop(instance, None)
            elif begin is not None:
                left[instance] = _MAX_KEY_LINES
            out.append(record)
            continue
        remaining = left.get(instance, 0)
        if remaining <= 0:
            out.append(record)
            continue
        left[instance] = remaining - 1
        out.append(
            msgspec.structs.replace(record, message=REDACTED) if _is_key_body(message) else record
        )
    return out


def _is_key_body(message: str) -> bool:
    """Tell a key's body line (base64, or a PEM header such as `DEK-Info: ...`) from other text."""
    stripped = message.strip()
    if not stripped or stripped == REDACTED:
        return False
    if not stripped.strip(_BASE64 + "\\"):
        return True
    name, colon, _ = stripped.partition(": ")
    return bool(colon) and name.replace("-", "").isalpha()


# Query parameters whose value is a credential whatever it looks like (`?token=` is how an
# ingest token may be sent, CONTRACT §4).
_QUERY_SECRET = regex.compile(
    r"([?&](?:token|access_token|auth|api_key|apikey|key|password|secret|sig|signature)=)"
    r"[^&#\s\"']{1,4096}",
    regex.IGNORECASE,
)


def redact_url(target: str) -> str:
    """Return a request target (path and query) with credential parameters and secrets replaced."""
    if "=" in target:
        target = str(_QUERY_SECRET.sub(rf"\1{REDACTED}", target, timeout=_TIMEOUT))
    return redact(target)
