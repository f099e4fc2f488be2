"""The folded form of a message that signatures also match: HTML entities unescaped, typographic
quotes, dashes and spaces turned into their ASCII forms.

An exception e-mail or a web page escapes `> 'maxmemory'` as `&gt; &#39;maxmemory&#39;`; a chat,
an editor or a word processor retypes it as `‘maxmemory’`. `FOLD_MARKERS` are literals of which one
occurs in every text that folding changes, so the keyword prefilter tells which texts to fold at no
cost to the others. Only what is matched is folded: the stored line stays as written.
"""

from __future__ import annotations

import html

# Typographic characters and their ASCII forms. Guillemets (« » ‹ ›) are left as they are: they
# are the quotes of the server messages of some locales (PostgreSQL's German `Relation »x«`),
# which signatures match as written, and a bullet or prompt elsewhere.
_ASCII = {
    "‘": "'",  # left single quotation mark
    "’": "'",  # right single quotation mark
    "‚": "'",  # single low-9 quotation mark
    "‛": "'",  # single high-reversed-9 quotation mark
    "′": "'",  # prime
    "´": "'",  # acute accent typed as an apostrophe
    "“": '"',  # left double quotation mark
    "”": '"',  # right double quotation mark
    "„": '"',  # double low-9 quotation mark
    "‟": '"',  # double high-reversed-9 quotation mark
    "″": '"',  # double prime
    "‐": "-",  # hyphen
    "‑": "-",  # non-breaking hyphen
    "‒": "-",  # figure dash
    "–": "-",  # en dash
    "—": "-",  # em dash
    "―": "-",  # horizontal bar
    "−": "-",  # minus sign
    "…": "...",  # horizontal ellipsis
    "\u00a0": " ",  # no-break space (`&nbsp;`)
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
}
_TABLE = str.maketrans(_ASCII)
# `&#` starts every numeric entity (`&#39;`, `&#x27;`); the named ones are those log text is
# escaped with, by html.escape, Jinja, Rails and e-mail clients.
_ENTITIES = ("&#", "&quot;", "&apos;", "&amp;", "&lt;", "&gt;", "&nbsp;")
_NAMED_TYPOGRAPHY = ("&lsquo;", "&rsquo;", "&ldquo;", "&rdquo;", "&ndash;", "&mdash;", "&hellip;")
FOLD_MARKERS: tuple[str, ...] = (*_ENTITIES, *_NAMED_TYPOGRAPHY, *_ASCII)


def fold_text(text: str) -> str:
    """Return `text` with HTML entities unescaped and typographic characters made ASCII."""
    # Twice at most: text escaped again by a mailer reads `&amp;gt;`.
    for _ in range(2):
        if "&" not in text or (unescaped := html.unescape(text)) == text:
            break
        text = unescaped
    return text if text.isascii() else text.translate(_TABLE)
