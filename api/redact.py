"""Personal details removed before anything a carer typed is stored."""

from __future__ import annotations

import re

_RELATION = (
    r"(?:foster |birth |little |baby |adopted |step |twin )?"
    r"(?:son|daughter|baby|child|boy|girl|toddler|grandson|granddaughter|niece|nephew|brother|"
    r"sister|mum|mom|mother|dad|father|partner|husband|wife|boyfriend|girlfriend|placement|"
    r"social worker|health visitor|foster carer|carer|little one|lo)"
)
_NOT_NAMES = {"I", "The", "A", "An", "And", "But", "So", "Is", "Was", "Has", "He", "She", "They"}

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("[email]", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    # NHS numbers: 10 digits, often written 3-3-4.
    ("[nhs number]", re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b")),
    # UK phone numbers: 07..., 01/02/03/08..., +44 ...
    (
        "[phone]",
        re.compile(r"(?<!\w)(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}\b"),
    ),
    (
        "[postcode]",
        re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE),
    ),
    # Dates (most often a child's date of birth): 03/04/2024, 3-4-24, 3 April 2024, April 3rd 2024.
    (
        "[date]",
        re.compile(
            r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|"
            r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
            r"[a-z]*\.?,?\s+\d{4}\b|"
            r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}"
            r"(?:st|nd|rd|th)?,?\s+\d{4}\b",
            re.IGNORECASE,
        ),
    ),
]
# "my foster son Jayden", "our baby, Mia,", "called Mia", "her name is Mia"
# Only the lead-in ignores case: a name is a capitalised word ("my son is" has no name).
_NAMED = re.compile(
    rf"\b((?i:(?:my|our|his|her|their|the) {_RELATION}),?\s+(?i:called |named |is called )?)"
    r"([A-Z][A-Za-z'-]*[a-z](?:\s+[A-Z][A-Za-z'-]*[a-z])?)"
)
_CALLED = re.compile(
    r"\b((?i:called|named|(?:his|her|their|my) name is|name's)\s+)"
    r"([A-Za-z][A-Za-z'-]*[a-z](?:\s+[A-Z][A-Za-z'-]*[a-z])?)"
)


def redact(text: str) -> str:
    for label, pattern in PATTERNS:
        text = pattern.sub(label, text)
    text = _CALLED.sub(_name, text)
    return _NAMED.sub(_name, text)


def _name(match: re.Match[str]) -> str:
    if match.group(2).split()[0].capitalize() in _NOT_NAMES:
        return match.group(0)
    return f"{match.group(1)}[name]"
