"""Keyword matching: case-insensitive, whole words, letters of any script.

Both sides are NFC-normalised (an "é" typed as e + combining accent matches a precomposed
one) and case-folded. A keyword matches where it is not preceded or followed by a letter,
digit or underscore of any language, so "art" never matches inside "party" or "artículo".
Accents are significant: "resume" does not match "résumé" (in many languages an accent makes
another word).
"""

import re
import unicodedata
from functools import lru_cache


def keyword_normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


@lru_cache(maxsize=4096)
def _pattern(normalized_keyword: str) -> re.Pattern:
    words = r"\s+".join(map(re.escape, normalized_keyword.split()))
    return re.compile(rf"(?<!\w){words}(?!\w)")


def keywords_matching(text: str, normalized_keywords: list[str]) -> set[str]:
    """Which of the (normalised) keywords occur in `text` as whole words."""
    haystack = unicodedata.normalize("NFC", text).casefold()
    return {k for k in normalized_keywords if _pattern(k).search(haystack)}
