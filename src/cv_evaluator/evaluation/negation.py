"""Passages that say something was *not* done: they never count as evidence for it.

A negation cue followed, within a few words, by a verb of doing ("we did not add retries",
"rate limiting is not implemented", "there are no tests yet"), or an explicit marker of unfinished
work ("TODO", "future work"). Positive claims built with the same words ("no job is lost",
"without downtime") do not match: no verb of doing follows the cue.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["is_negated"]

_CUES = (
    r"not|never|no|none|nothing|didn't|did not|don't|do not|doesn't|does not|couldn't|"
    r"could not|cannot|can't|wasn't|weren't|isn't|aren't|haven't|hasn't|won't|without|"
    r"lack(?:s|ing)?|missing"
)
_DOING = (
    r"implement(?:ed|ing)?|support(?:ed|s)?|handl(?:e|ed|es|ing)|done|do|includ(?:e|ed|es)|"
    r"test(?:ed|s)?|finish(?:ed)?|add(?:ed|s|ing)?|cover(?:ed|s)?|buil[dt]|writ(?:e|ten)|wrote|"
    r"us(?:e|ed)|ma(?:ke|de)|provid(?:e|ed)|set up|creat(?:e|ed)|have|has|get|got|any|"
    r"time|able|working|work|yet|complet(?:e|ed)"
)
_NEGATION = re.compile(
    rf"\b(?:{_CUES})\b(?!\s+only\b)[^.;\n]{{0,40}}?\b(?:{_DOING})\b"
    r"|\b(?:todo|to-do|future work|not yet|out of scope|left for later|would have liked|"
    r"if i had more time|if we had more time|planned but|next steps?:)",
    re.IGNORECASE,
)


@lru_cache(maxsize=16_384)
def is_negated(text: str) -> bool:
    """Whether a passage says something was *not* done ("retries are not implemented yet")."""
    return bool(_NEGATION.search(text))
