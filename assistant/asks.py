"""The question inside a long message.

Carers often write the story first and ask last: "...every night it's 90 minutes of screaming.
I'm on my knees. What else can I try?" Matched whole, such a message goes to whichever section
shares its most vivid words; the ask itself says what the carer wants to know. Retrieval
matches the library's own questions against both (`Retriever.search`).
"""

from __future__ import annotations

import re

# A sentence that asks something: a question mark, or the way a question opens or turns
# ("should I", "is it normal", "any tips"), since carers often leave the mark off.
_ASKING = re.compile(
    r"\?"
    r"|^(?:how|what|why|when|where|who|which|whose|should|shall|can|could|is|are|am|do|does"
    r"|did|will|would|has|have|any|anyone|anybody|anything|advice|tips|ideas|help|please)\b"
    r"|\b(?:should|shall|can|could|do|must|would|will) (?:i|we|you|they)\b"
    r"|\b(?:is|was|are) (?:it|this|that|these|he|she) (?:normal|ok|okay|alright|fine|right)\b"
    r"|\bany (?:tips|advice|ideas|suggestions|thoughts)\b"
    r"|\b(?:what|how|where|who|why|when) (?:do|does|can|should|would|else|is|are)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+|\n+")
# An ask this short ("any advice?", "what do I do?") says too little alone: the sentence before
# it goes with it.
_SHORT_ASK = 6


def ask_of(message: str, min_words: int) -> str | None:
    """The last sentence of `message` that asks something, when the message runs to at least
    `min_words` words and has more than that one sentence; else None (the message is the ask)."""
    if min_words <= 0 or len(message.split()) < min_words:
        return None
    sentences = [s.strip() for s in _SENTENCE_END.split(message.strip()) if s.strip()]
    if len(sentences) < 2:
        return None
    for index in range(len(sentences) - 1, -1, -1):
        if _ASKING.search(sentences[index]):
            start = index - 1 if len(sentences[index].split()) < _SHORT_ASK and index else index
            return " ".join(sentences[start : index + 1])
    return None
