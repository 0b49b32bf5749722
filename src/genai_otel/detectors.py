"""The detectors of personal data and secrets in text: emails, phone numbers, card numbers, API keys,
bearer tokens and URL credentials. The redaction rule (:mod:`genai_otel.processor.rules`) replaces what
they find; the PII evaluator (:mod:`genai_otel.evaluation.checks`) reports it. One set of patterns, so what
is redacted and what is flagged agree."""

from __future__ import annotations

import re


def luhn(digits: str) -> bool:
    """Whether a card number's digits pass the Luhn check (most random 13-19 digit runs do not)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


DETECTORS: dict[str, re.Pattern[str]] = {
    # The user info of a URL with a password (https://user:token@host, redis://:password@host): user and
    # password go, the host stays. It starts at the "://", left of where EMAIL could start on
    # "token@host", so in the combined pattern it wins. A provider key inside is reported as API_KEY (see
    # find). Possessive runs over disjoint classes: one linear scan per "://".
    "URL_CREDENTIALS": re.compile(r"(?<=://)[^\s:/?#@\"'`]*+:[^\s/?#@\"'`]++(?=@)"),
    # Starts only where a run of address characters starts: with \b, every dot in "a.a.a.…@" was a
    # start that rescanned the run (quadratic: 0.7 s for 17 KB). Never right after "//": "user@host" there
    # is a URL's user info, and the host must stay readable.
    "EMAIL": re.compile(r"(?<![A-Za-z0-9._%+-])(?<!//)[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "API_KEY": re.compile(
        r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
        r"|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b"
    ),
    "BEARER": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE),
    "CARD": re.compile(r"\b\d(?:[ -]?\d){12,18}\b"),
    "PHONE": re.compile(
        # Not glued to a word: no word character or "+" just before, nor a word character and a "-" or "."
        # (INV-2026-000417, ACC-0042-7781-9930 are ids); nor followed by one more "-"/"." digit group.
        r"(?=[\d(+])(?<![\w+])(?<!\w[.-])(?:"  # the lookahead first: one cheap test fails most positions
        # International: a country code, then 2 to 6 groups of 1-5 digits (+33 1 42 68 53 00,
        # +55 11 91234-5678, +91 98765 43210), 8 digits at least (its lookahead) so "+1 2 3" is not one;
        # dots only all the way (+1.415.555.0132: "+12.5 13.1 14.2" is a list of decimals); or E.164 written
        # without separators (+14155550132).
        r"\+(?:(?=(?:[ .-]?\d){8})\d{1,3}(?:(?:[ -]\d{1,5}){2,6}|(?:\.\d{1,5}){2,6})|[1-9]\d{9,14})"
        r"|(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4})\b(?![.-]\d)"
    ),
}


API_KEY = DETECTORS["API_KEY"]


# The trigger tests below are written out because they run on every content attribute: one-character
# tests run at memchr speed (a \d search walks the text in the regex engine, ~10x slower), and the longer
# needles are only searched for when their rarer character is there.


def _has_digit(text: str) -> bool:
    return (
        "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
        or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
    )  # fmt: skip


def _may_hold_key(text: str) -> bool:
    """sk-/xox*- keys, gh?_ tokens, AKIA/AIza keys (see DETECTORS["API_KEY"])."""
    return (
        ("-" in text and ("sk-" in text or "xox" in text))
        or ("_" in text and "gh" in text)
        or ("A" in text and ("AKIA" in text or "AIza" in text))
    )


def _may_hold_url_credentials(text: str) -> bool:
    """A "://" whose authority (up to the next '/') holds a '@' with a ':' before it (see
    DETECTORS["URL_CREDENTIALS"]). Called only when the text has a '@' and a "://". Linear: the parts
    searched between one "://" and its next '/' do not overlap (every later "://" starts after that '/')."""
    start = text.find("://")
    while start != -1:
        start += 3
        slash = text.find("/", start)
        end = len(text) if slash == -1 else slash
        at = text.find("@", start, end)
        if at != -1 and text.find(":", start, at) != -1:
            return True
        if slash == -1:
            return False
        start = text.find("://", slash - 1)
    return False


def likely_labels(text: str) -> frozenset[str]:
    """The built-in detectors that may match in ``text``, by cheap substring tests: most content has no
    '@', no key prefix, no "bearer" and often no digit, so the regex pass runs with fewer alternatives, or
    not at all."""
    email, key, bearer, digit = "@" in text, _may_hold_key(text), "bearer" in text.lower(), _has_digit(text)
    url = email and "://" in text and _may_hold_url_credentials(text)
    return _LIKELY[email | key << 1 | bearer << 2 | digit << 3 | url << 4]


# Which labels each outcome of the five tests in likely_labels allows (bit 3: a digit, for two detectors).
_LIKELY_BITS = (("EMAIL",), ("API_KEY",), ("BEARER",), ("CARD", "PHONE"), ("URL_CREDENTIALS",))
_LIKELY = [
    frozenset(label for bit, labels in enumerate(_LIKELY_BITS) if mask >> bit & 1 for label in labels)
    for mask in range(1 << len(_LIKELY_BITS))
]
#: Labels whose matches are decided one by one (Luhn check; a key inside URL user info is an API_KEY), so
#: never on the one-detector substitution path.
CHECKED = frozenset({"CARD", "URL_CREDENTIALS"})


def find(text: str) -> list[tuple[str, str]]:
    """Every (label, matched text) the built-in detectors find in ``text``, grouped by label: a card
    number only when it passes the Luhn check, URL credentials holding a provider key reported as
    ``API_KEY`` -- the decisions :class:`~genai_otel.processor.rules.RedactRule` makes."""
    likely = likely_labels(text)
    found = []
    for label, pattern in DETECTORS.items():
        if label not in likely:
            continue
        for match in pattern.finditer(text):
            value = match.group(0)
            if label == "CARD" and not luhn(re.sub(r"\D", "", value)):
                continue
            is_key = label == "URL_CREDENTIALS" and API_KEY.search(value)
            found.append(("API_KEY" if is_key else label, value))
    return found
