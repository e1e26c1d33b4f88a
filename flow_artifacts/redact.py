"""Where secrets live, and masking them: the one place that decides what is a secret.

Secrets are found by structure, never by guessing at text: the password of a URL's user-info, the
values under keys named like a credential (`password`, `api_key`, `SAS_TOKEN`, `Authorization`,
`Cookie`, `AccountKey`...) at any depth of dicts and lists, and the secret fields of connection
strings and DSNs (`password=...`, `AccountKey=...`, `sig=...`). `redact(value)` masks them in
structured data (recorded parameters, options), `scrub(text, secrets)` in free text (error messages
of SDKs, log lines). Free text is scrubbed of those structures and of exact occurrences of known
secret values (and their percent-encodings) long enough to be unambiguous: a short value such as
`anon` would otherwise star every word that contains it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
MIN_SECRET_LENGTH = 8
"""Known secret values shorter than this are masked only where structure says they are secret."""

_SECRET_PARTS = ("secret", "password", "passwd", "passphrase", "credential", "connectionstring")
"""A name holding one of these anywhere (`DB_PASSWORD`, `mysecretvalue`, `ConnectionString`)."""
_SECRET_WORDS = frozenset(
    {"token", "key", "sas", "sig", "signature", "auth", "authorization", "cookie", "connstr"}
)
"""...or one of these as a word (`api_key`, `X-Auth-Token`, `sasToken`, but not `tokenizer`)."""
_SECRET_ENDINGS = ("key", "token", "signature")
"""...or a word ending in one (`apikey`, `AccountKey`, `accesstoken`, but not `max_tokens`)."""
_PROSE_WORDS = frozenset({"key"})
"""Words that name a secret in structure but not in free text, where `key=...` is an object key."""

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_USERINFO = r"[^:/]*:.*@|[^:/]*@"
"""Where a URL's user-info ends. SQLAlchemy's `make_url` takes everything after `user:` up to an
`@` as the password, `/`, `?` and `#` included (without a password, the user ends at the last `@`
before the first `:` or `/`). Masking goes on to the last `@`, so that a password holding `@`
too is never shown in part. Any URL is read so: cut at a `/`, such a password would be shown."""
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://)"
    r"(?P<userinfo>[^\s:/'\"<>]*:[^\s'\"<>]*|[^\s:/'\"<>@]*(?:@[^\s:/'\"<>@]*)*)@"
)
"""A URL's user-info in free text (by `_USERINFO`'s rule, ending at whitespace or quotes)."""
_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization|\b(?:set-)?cookie)(?P<sep>['\"]?\s*[:=]\s*)"
    r"(?P<value>'[^'\r\n]*'|\"[^\"\r\n]*\"|(?:bearer|basic|token|negotiate|apikey) +[^\s'\"]+"
    r"|[^\r\n]+)",
    re.IGNORECASE,
)
"""An auth header: a quoted value, a one-token credential after a known scheme, else the line."""
_HEADER_NAMES = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_AUTH_SCHEME = re.compile(r"(?:bearer|basic|token|negotiate|apikey) +", re.IGNORECASE)
_ASSIGNMENT = re.compile(
    r"(?P<name>\b[A-Za-z_][\w.-]{0,63})(?P<sep>\s*=\s*|['\"]\s*:\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s;&,'\")}\]]+)"
)


def is_secret_name(name: str) -> bool:
    """Whether a key, option, parameter, header or variable called `name` holds a secret."""
    words = [word.lower() for word in _WORD.findall(name)]
    if any(part in "".join(words) for part in _SECRET_PARTS):
        return True
    return any(word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS) for word in words)


def redact_url(url: str) -> str:
    """`url` with its whole `user:password@` part masked: how store and catalog URLs are shown
    and recorded (the user is masked too, so the recorded form does not depend on it)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*", scheme):
        return url
    userinfo = re.match(_USERINFO, rest)
    return url if userinfo is None else f"{scheme}://{MASK}@{rest[userinfo.end() :]}"


def redact(value: Any) -> Any:
    """A copy of `value` (dicts, lists, tuples, strings, at any depth) with every secret masked:
    values under secret-named keys entirely, strings by `scrub`'s structural patterns."""
    if isinstance(value, Mapping):
        return {
            k: MASK if isinstance(k, str) and is_secret_name(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        redacted = [redact(v) for v in value]
        return tuple(redacted) if isinstance(value, tuple) else redacted
    if isinstance(value, str):
        return scrub(value)
    return value


def redact_patch(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """User-given labels or metadata as recorded: `redact`ed, but a None value (remove this key,
    in an update) stays None rather than becoming a masked value."""
    if fields is None:
        return None
    return {k: None if v is None else redact({k: v})[k] for k, v in fields.items()}


def secret_values(value: Any) -> tuple[str, ...]:
    """Every secret string in `value`: strings under secret-named keys at any depth, and the
    passwords and keys inside URLs, DSNs and connection strings anywhere in it."""
    found: list[str] = []
    _collect(value, False, found)
    return tuple(dict.fromkeys(s for s in found if s))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords, auth headers, `name=value` secrets and every occurrence of a
    known secret at least MIN_SECRET_LENGTH long (as is, or percent-encoded) masked."""
    for secret in _variants(secrets):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    text = _HEADER.sub(_mask_header, text)
    return _ASSIGNMENT.sub(_mask_assignment, text)


def scrub_cut(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """At most `limit` characters of `text`, scrubbed, at a bounded cost (long error messages).

    Only the first 4 * `limit` characters are scrubbed. When the text goes on, a secret may be
    cut short at that point, where no mask recognises it, and masks before it may shrink the text
    so that it lands within `limit`: so the end of the scrubbed part goes first, as many
    characters as the longest form of a known secret and then its last run without whitespace.
    """
    secrets = tuple(secrets)
    part = text[: 4 * limit]
    masked = scrub(part, secrets)
    if len(part) < len(text):
        longest = max(map(len, _variants(secrets)), default=0)
        masked = re.sub(r"\S*\Z", "", masked[: max(len(masked) - longest, 0)])
    return masked[:limit]


def _variants(secrets: Iterable[str]) -> list[str]:
    """Long-enough secrets and their percent-encodings, longest first."""
    variants = {
        form
        for secret in secrets
        if len(secret) >= MIN_SECRET_LENGTH
        for form in (secret, quote(secret, safe=""), quote_plus(secret), quote(secret))
    }
    return sorted(variants, key=len, reverse=True)


def _mask_userinfo(match: re.Match[str]) -> str:
    return f"{match['scheme']}{MASK}@"


def _mask_header(match: re.Match[str]) -> str:
    """The header with its value masked, keeping quotes and the scheme (`Bearer ***`)."""
    value = match["value"]
    quote_char = value[0] if value[0] in "'\"" else ""
    scheme = _AUTH_SCHEME.match(value.strip(quote_char))
    masked = f"{scheme.group(0) if scheme else ''}{MASK}"
    return f"{match['name']}{match['sep']}{quote_char}{masked}{quote_char}"


def _mask_assignment(match: re.Match[str]) -> str:
    name, value = match["name"], match["value"]
    if not _is_prose_secret(name) or MASK in value:
        return match.group(0)
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{name}{match['sep']}{quote_char}{MASK}{quote_char}"


def _is_prose_secret(name: str) -> bool:
    words = [word.lower() for word in _WORD.findall(name)]
    if name.lower() in _HEADER_NAMES or (len(words) == 1 and words[0] in _PROSE_WORDS):
        return False  # headers are masked by _HEADER; a bare `key` in prose is an object key
    return is_secret_name(name)


def _collect(value: Any, secret: bool, found: list[str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _collect(v, secret or (isinstance(k, str) and is_secret_name(k)), found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, secret, found)
    elif isinstance(value, str):
        if secret:
            found.append(value)
        found.extend(_embedded_secrets(value))


def _embedded_secrets(text: str) -> list[str]:
    """The passwords of URLs and the secret fields of DSNs and connection strings in `text`."""
    found = []
    for match in _URL_USERINFO.finditer(text):
        user, colon, password = match["userinfo"].partition(":")
        found.append(unquote(password) if colon else unquote(user))
        if colon:
            found.append(password)
    for match in _ASSIGNMENT.finditer(text):
        if _is_prose_secret(match["name"]):
            found.append(match["value"].strip("'\""))
    return found
