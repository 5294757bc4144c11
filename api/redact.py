"""Personal details removed before anything a carer typed is stored.

Private by default: a missed name or address is worse than an over-redacted word, so names are
found by an allow-list, not only by patterns. A word stays when it is ordinary English; a word
that is a first name and not ordinary English (jayden, Noah, Zoë), or an unknown capitalised
word in mid-sentence (Okafor), is replaced, in any case and any position. Names that are also
words (Hope, Summer, Will) are replaced when they are written like names (capitalised in
mid-sentence) or stand where a name stands ("my foster daughter hope", "baby Hope").

Where the words come from (all shipped inside PyPI packages, nothing is downloaded):
- first names: `gender-guesser` (about 61,000 first names from many countries);
- ordinary English: the lowercase entries of Webster's word list in `english-words`, and word
  frequencies from `wordfreq` (how common a word is; a rare word is not "ordinary");
- phone numbers: `phonenumbers` (Google's libphonenumber), every UK format;
- words the guidance itself uses (medicines, services, programmes) and that must stay:
  `redact_keep.txt`, reviewed like corpus text.
Patterns handle the rest: e-mails, handles, postcodes, NHS numbers, dates, addresses, named
nurseries, schools and surgeries, case and reference numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import phonenumbers

__all__ = ["Detail", "Redactor", "find_details", "redact"]

KEEP_FILE = Path(__file__).parent / "redact_keep.txt"

# How common (wordfreq's Zipf scale: 3 is about once per million words) an ordinary English word
# must be to count as vocabulary; rarer words are treated like unknown ones.
COMMON_ZIPF = 3.0
# A capitalised word in mid-sentence that is neither a first name nor ordinary English is kept
# only when it is this common (towns such as Leeds; not surnames such as Okafor).
PROPER_ZIPF = 3.3
# A dictionary word that is also an English first name counts as the name below this frequency
# ("mason", "amelia", "ruby"); above it, as the word ("hope", "will", "grace").
NAME_OVER_WORD_ZIPF = 4.0
# Where a name is expected (after "my foster son", "social worker is"), a first name is taken
# as the name below this frequency ("jo", "mason"), as the word above it ("will", "hope").
NAME_IN_CONTEXT_ZIPF = 4.5
# A lowercase word rarer than this, and in no dictionary, is treated as a name (a typo may be
# replaced too: over-redaction is the safer mistake).
RARE_ZIPF = 2.0

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?"
_ORDINAL = r"(?:[12]?\d|3[01])(?:st|nd|rd|th)"
_DAY = r"(?:[12]?\d|3[01])(?:st|nd|rd|th)?"
_STREET = (
    r"(?:road|rd|street|lane|lanes|ln|avenue|ave|close|drive|dr|way|crescent|cres|grove|"
    r"terrace|gardens|place|court|ct|row|rise|walk|mews|square|sq|hill|green|parade|view|vale|"
    r"park|wharf|fold|croft|meadows?|gate|end|yard|wynd|brow|chase|cottages|paddocks|fields|"
    r"buildings|estate|heights|mount|crest|dene|bank|side|mead|ridge|hollow)"
)
_PLACE = (
    r"(?:gp(?:['’]?s)?(?: surgery| practice)?|nursery|pre-?school|school|primary(?: school)?|"
    r"academy|infants?|juniors?|college|surgery|medical cent(?:re|er)|health cent(?:re|er)|"
    r"medical practice|practice|hospital|clinic|children['’]?s cent(?:re|er)|"
    r"family cent(?:re|er)|contact cent(?:re|er)|cent(?:re|er)|church|chapel|mosque|temple|"
    r"gurdwara|synagogue|house|lodge|hall)"
)
_CAP = r"(?:St\.?|C of E|CofE|RC|[A-Z][\w'’.-]*)"
_HOUSE = (
    r"\b(?:(?:number|no\.?)\s+)?\d+[a-zA-Z]?,?\s+"
    r"(?!(?i:minutes?|mins?|hours?|hrs?|miles?|km|seconds?|weeks?|days?|months?|years?)\b)"
)
# The town after a street: ", Leeds", ", flat 4F, Edinburgh", ", Little Haddon, near Norwich".
_TOWN_PART = r",\s*(?:(?i:flat|apartment)\s+\w+|(?:near\s+)?[A-Z][\w'’-]+(?:[ -][A-Z][\w'’-]+)?)"
_TOWN = rf"(?:{_TOWN_PART}){{0,3}}"
# After a street with its number, a town in any case: "23 hawthorn close, bolton".
_TOWN_ANY = (
    r"(?:,\s*(?!(?i:and|but|so|or|then|which|where|who|when|is|was|it|she|he|they|we|i|the|"
    r"a|my|our|her|his|near|next|opposite|by)\b)[A-Za-z][\w'’-]+(?=\s*(?:[,.;:!?)]|$|\s+[A-Z]"
    rf"|\s+(?i:is|was)\b)))?{_TOWN}"
)
_REFERENCE_WORDS = (
    r"\b(?:ref(?:erence)?|case|file|id|mosaic|court|claim|complaint|placement|carer|la|"
    r"account|passport|crn|nino)\b"
)
_REFERENCE = re.compile(
    rf"{_REFERENCE_WORDS}\.?(?:\s+(?:ref(?:erence)?|no|number|id|is|was|:|#))*"
    r"[\s:#.-]*((?=[A-Z0-9/-]{3,})[A-Z0-9][A-Z0-9/-]*\d[A-Z0-9/-]*)",
    re.IGNORECASE,
)
# Words that name a kind of service, not a particular one: "the Family Centre", "A&E".
_GENERIC = {
    "the", "a", "our", "my", "her", "his", "their", "local", "family", "children's",
    "childrens", "children’s", "contact", "health", "medical", "community", "day", "sure",
    "start", "town", "village", "new", "old", "big", "little", "baby", "special", "care",
    "nhs", "gp", "gp's", "doctor's", "doctors", "dentist", "dental", "walk-in", "urgent",
    "primary", "secondary", "junior", "infant", "forest", "soft", "play", "stay", "and",
}  # fmt: skip

# Patterns, in order: a character taken by one is not taken again by a later one.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("handle", re.compile(r"(?<![\w@])@[A-Za-z0-9_.]{2,}")),
    ("url", re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)),
    (
        "postcode",
        re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE),
    ),
    # National Insurance numbers and car registrations (current UK format).
    ("reference", re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")),
    ("reference", re.compile(r"\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b")),
    # Case, court, LA and other reference numbers, after a word that announces one.
    ("reference", _REFERENCE),
]
# After dates and phone numbers:
PLACES: list[tuple[str, re.Pattern[str]]] = [
    (
        "address",
        re.compile(
            rf"(?:\b(?i:flat|apartment|apt|unit)\s+\d+[a-zA-Z]?,?\s+)?{_HOUSE}"
            rf"(?:[\w'’-]+\s+){{1,3}}(?i:{_STREET})\b{_TOWN_ANY}"
        ),
    ),
    # A house number and a capitalised street with its town: "16 Mount Pleasant, Peterborough".
    (
        "address",
        re.compile(
            rf"{_HOUSE}(?:The\s+)?[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){{0,2}}(?:{_TOWN_PART}){{1,3}}"
        ),
    ),
    ("address", re.compile(r"\b(?:flat|apartment|apt)\s+\d+[a-z]?\b", re.IGNORECASE)),
    # A named street without a number: "on Park Road" (not the High Street).
    (
        "address",
        re.compile(
            rf"\b(?!(?:High|Main|The|Family|Crown|County|Youth|Magistrates['’]?)\s){_CAP}(?:\s+{_CAP}){{0,2}}\s+{_STREET.title()}\b{_TOWN}"
        ),
    ),
    (
        "place",
        re.compile(
            rf"\b(?:{_CAP}\s+){{1,4}}(?i:{_PLACE})\b"
            r"(?:\s+(?i:school|nursery|surgery|centre|center))?"
        ),
    ),
    # Any other long number or code with digits in it.
    ("number", re.compile(r"\b(?=[A-Z0-9/-]*\d{4})[A-Z0-9][A-Z0-9/-]{4,}\b", re.IGNORECASE)),
]
_DATES = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTH}\b\.?(?:,?\s+\d{{2,4}}\b)?|"
    rf"\b(?:{_WEEKDAY},?\s+)?{_MONTH}\.?\s+(?:the\s+)?{_DAY}\b(?:,?\s+\d{{2,4}}\b)?|"
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|"
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|"
    rf"\b(?:{_WEEKDAY}\s+)?(?:the\s+)?{_ORDINAL}\b|"
    rf"\b{_MONTH}\s+\d{{4}}\b|"
    r"\b(?:christmas|boxing|new year['’]?s?|easter)(?: day| eve| sunday)?\s+\d{4}\b",
    re.IGNORECASE,
)
_NHS = re.compile(r"(?<![\d+])\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
# A UK mobile written without its leading 0 ("7700 900 123"), which phonenumbers can't place.
_MOBILE_NO_ZERO = re.compile(r"(?<![\d+])7\d{3}[ -]?\d{3}[ -]?\d{3}(?!\d)")

_TITLES = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "nurse", "sister", "nanna", "nana",
    "nan", "nanny", "grandma", "grandad", "granddad", "grandpa", "granny", "gran", "grampa",
    "auntie", "aunty", "aunt", "uncle", "cousin", "mama", "baba", "papa", "pops", "mummy",
    "daddy", "sir", "madam", "rev", "father", "pastor", "imam", "judge", "cllr",
}  # fmt: skip
# Titles that are always followed by a name, whatever its case.
_FORMAL_TITLES = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "rev", "cllr", "judge", "sir",
    "madam", "pastor", "imam",
}  # fmt: skip
_RELATIONS = {
    "son", "daughter", "baby", "babe", "child", "boy", "girl", "toddler", "grandson",
    "granddaughter", "niece", "nephew", "brother", "sister", "mum", "mom", "mother", "dad",
    "father", "partner", "husband", "wife", "boyfriend", "girlfriend", "placement", "twin",
    "twins", "carer", "worker", "visitor", "one", "lo", "sw", "friend", "neighbour", "little",
    "named", "called", "name's", "dear", "thanks", "cheers",
    "regards", "sibling", "siblings", "kids",
}  # fmt: skip
_FUNCTION = {
    "i", "a", "an", "the", "and", "but", "or", "so", "is", "was", "has", "had", "have", "he",
    "she", "they", "it", "we", "you", "his", "her", "their", "our", "my", "me", "him", "them",
    "to", "of", "in", "on", "at", "for", "with", "from", "by", "as", "if", "when", "that",
    "this", "these", "those", "who", "what", "how", "why", "where", "be", "been", "being", "am",
    "are", "were", "do", "does", "did", "not", "no", "yes", "just", "still", "also", "too",
    "very", "really", "again", "now", "then", "there", "here", "all", "any", "some", "one",
    "about", "after", "before", "since", "until", "up", "down", "out", "off", "over", "into",
    "can", "could", "will", "would", "should", "may", "might", "must", "shall", "won't",
    "can't", "don't", "doesn't", "didn't", "isn't", "wasn't", "it's", "she's", "he's", "i'm",
    "i've", "we're", "they're", "keeps", "gets", "got", "seems", "seemed", "wakes", "cries",
    "screams", "likes", "loves", "went", "goes", "came", "comes", "say", "says", "said",
}  # fmt: skip
_PARTICLES = {"van", "der", "den", "de", "da", "di", "du", "del", "la", "le", "von", "bin", "ibn"}
_CALENDAR = re.compile(
    rf"^(?:{_MONTH}|{_WEEKDAY}s?|christmas|easter|eid|diwali|hanukkah|ramadan|halloween)$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n\"“(\[]|\s-\s|\s–\s)\s*$")


@dataclass(frozen=True)
class Detail:
    start: int
    end: int
    label: str


class Lexicon:
    """The word lists, loaded once on first use."""

    @cached_property
    def _names_by_country(self) -> dict[str, dict[str, str]]:
        from gender_guesser.detector import Detector

        return Detector(case_sensitive=False).names

    @cached_property
    def first_names(self) -> frozenset[str]:
        return frozenset(self._names_by_country)

    @cached_property
    def english_first_names(self) -> frozenset[str]:
        """First names in use in Great Britain, Ireland or the USA (the first three columns of
        the list's frequencies)."""
        return frozenset(
            name
            for name, frequencies in self._names_by_country.items()
            if any(column[:3].strip() for column in frequencies.values())
        )

    @cached_property
    def english(self) -> frozenset[str]:
        from english_words import get_english_words_set

        words = get_english_words_set(["web2"], lower=False, alpha=True)
        return frozenset(word for word in words if word.islower())

    @cached_property
    def keep(self) -> frozenset[str]:
        lines = KEEP_FILE.read_text(encoding="utf-8").splitlines()
        return frozenset(
            line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
        )

    @staticmethod
    @lru_cache(maxsize=65536)
    def zipf(word: str) -> float:
        from wordfreq import zipf_frequency

        return zipf_frequency(word, "en")

    def is_english(self, word: str) -> bool:
        """An ordinary English word (in the dictionary in lowercase, or an inflection of one),
        common enough to be vocabulary."""
        if word in self.english:
            return self.zipf(word) >= COMMON_ZIPF
        for suffix, replacement in (
            ("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"),
            ("ing", ""), ("ing", "e"), ("er", ""), ("ly", ""), ("'s", ""), ("’s", ""),
        ):  # fmt: skip
            stem = word[: -len(suffix)] + replacement
            if word.endswith(suffix) and stem in self.english and self.zipf(stem) >= COMMON_ZIPF:
                return True
        return False

    def is_name(self, word: str) -> bool:
        """A first name that is not also a common English word: lowercase "noah", "jayden",
        "mason" and "amelia" are names; "hope", "will" and "grace" are words."""
        if word not in self.first_names:
            return False
        if not self.is_english(word):
            return True
        return self.zipf(word) < NAME_OVER_WORD_ZIPF and word in self.english_first_names


class Redactor:
    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or Lexicon()

    def __call__(self, text: str) -> str:
        return self.replace(text, self.find(text))

    @staticmethod
    def replace(text: str, details: list[Detail]) -> str:
        parts: list[str] = []
        position = 0
        for detail in details:
            parts.append(text[position : detail.start])
            parts.append(f"[{detail.label}]")
            position = detail.end
        parts.append(text[position:])
        return "".join(parts)

    def find(self, text: str) -> list[Detail]:
        """The personal details in `text`, in order, not overlapping."""
        found: list[Detail] = []
        taken = [False] * len(text)

        def add(start: int, end: int, label: str) -> None:
            """Mark [start, end) (trimmed), around any parts an earlier pattern took."""
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1] in " ,.;:!?)":
                end -= 1
            position = start
            while position < end:
                if taken[position]:
                    position += 1
                    continue
                stop = position
                while stop < end and not taken[stop]:
                    stop += 1
                piece = text[position:stop]
                if piece.strip(" ,.;:-") and any(c.isalnum() for c in piece):
                    left = position + len(piece) - len(piece.lstrip(" ,.;:-"))
                    right = stop - (len(piece) - len(piece.rstrip(" ,.;:-")))
                    found.append(Detail(left, right, label))
                    taken[left:right] = [True] * (right - left)
                position = stop

        for label, pattern in PATTERNS:
            for match in pattern.finditer(text):
                group = 1 if pattern.groups else 0
                add(match.start(group), match.end(group), label)
        for match in _DATES.finditer(text):
            add(match.start(), match.end(), "date")
        for match in phonenumbers.PhoneNumberMatcher(text, "GB", phonenumbers.Leniency.POSSIBLE):
            digits = re.sub(r"\D", "", match.raw_string)
            if len(digits) == 10 and _nhs_check(digits) and not digits.startswith("07"):
                continue  # an NHS number, below
            add(match.start, match.end, "phone")
        for match in _NHS.finditer(text):
            if _nhs_check(re.sub(r"\D", "", match.group())):
                add(match.start(), match.end(), "nhs number")
        for match in _MOBILE_NO_ZERO.finditer(text):
            add(match.start(), match.end(), "phone")
        for label, pattern in PLACES:
            for match in pattern.finditer(text):
                if label != "place" or _named_place(match.group()):
                    add(match.start(), match.end(), label)
        for start, end in self._names(text, taken):
            add(start, end, "name")
        return sorted(found, key=lambda detail: detail.start)

    # -- names ----------------------------------------------------------------------

    def _names(self, text: str, taken: list[bool]) -> list[tuple[int, int]]:
        lex = self.lexicon
        words = [m for m in _WORD.finditer(text) if not any(taken[m.start() : m.end()])]
        count = len(words)
        flagged = [self._looks_like_name(text, words, i) for i in range(count)]
        # Context: the word after a title or a relation ("Mrs Okafor", "my foster son jayden",
        # "baby Hope", "called river"), the word before "(my foster son)" or ", my foster baby".
        for i, match in enumerate(words):
            word = match.group().lower()
            if i + 1 < count:
                following = words[i + 1].group()
                if word in _TITLES and _adjacent(text, match, words[i + 1], title=True):
                    if _nameable(following, lex, strict=word not in _FORMAL_TITLES):
                        flagged[i] = flagged[i + 1] = True  # "Mrs Okafor", "mr o'neill"
                introduces = word in _RELATIONS or (
                    word in {"is", "was"}
                    and i > 0
                    and words[i - 1].group().lower() in _RELATIONS | {"name", "names"}
                )
                if introduces and _nameable(following, lex, strict=True):
                    gap = text[match.end() : words[i + 1].start()]
                    if gap.strip() in ("", "(", ",", ":", "-"):
                        flagged[i + 1] = True  # "mum (Jade)", "foster son: Kai"
            if i + 2 < count and _introduces(text, match, words[i + 1], words[i + 2]):
                if match.group()[0].isupper() or _nameable(match.group(), lex, strict=True):
                    if word not in lex.keep and not _CALENDAR.match(word):
                        flagged[i] = True  # "Will (the little one)", "Mia, my foster baby"
            if (
                match.group().endswith(("'s", "’s"))
                and match.group()[0].isupper()
                and i + 1 < count
                and words[i + 1].group().lower() in _RELATIONS | _TITLES
                and _base(match.group()) not in lex.keep
                and not _CALENDAR.match(_base(match.group()))
            ):
                flagged[i] = True  # "Blessing's mum", "Mercy's nan"
        # A run of capitalised words around a name is part of it ("Mei Ling", "Jayden Smith",
        # "Alder Hey"); a sentence's ordinary first word is not.
        for i in [i for i in range(count) if flagged[i]]:
            j = i + 1
            while j < count and not flagged[j] and _adjacent(text, words[j - 1], words[j]):
                if words[j].group() in _PARTICLES and j + 1 < count:
                    following = words[j + 1]
                    if _adjacent(text, words[j], following) and following.group()[0].isupper():
                        flagged[j] = True  # "Van der Berg", "de Souza"
                        j += 1
                        continue
                if not self._capitalised_part(text, words[j], left=False):
                    break
                flagged[j] = True
                j += 1
            j = i - 1
            while j >= 0 and not flagged[j] and _adjacent(text, words[j], words[j + 1]):
                if not self._capitalised_part(text, words[j], left=True):
                    break
                flagged[j] = True
                j -= 1
        spans: list[tuple[int, int]] = []
        for i, match in enumerate(words):
            if not flagged[i]:
                continue
            if i and flagged[i - 1] and _adjacent(text, words[i - 1], match, title=True):
                spans[-1] = (spans[-1][0], match.end())
            else:
                spans.append((match.start(), match.end()))
        return spans

    def _capitalised_part(self, text: str, match: re.Match[str], *, left: bool) -> bool:
        token = match.group()
        word = _base(token)
        if not token[0].isupper() or word in _FUNCTION or word in self.lexicon.keep:
            return False
        if _CALENDAR.match(word) or word in _RELATIONS:
            return False
        if left and _starts_sentence(text, match.start()):
            return word in self.lexicon.first_names or not self.lexicon.is_english(word)
        return True

    def _looks_like_name(self, text: str, words: list[re.Match[str]], i: int) -> bool:
        lex = self.lexicon
        token = words[i].group()
        base = _base(token)
        if base in lex.keep or base in _FUNCTION or base in _TITLES or len(base) < 2:
            return False  # a title is redacted only with the name after it
        if _CALENDAR.match(base):
            return False
        parts = [_base(part) for part in base.split("-") if part]
        if any(lex.is_name(part) for part in parts):
            return True
        initial = _starts_sentence(text, words[i].start())
        capitalised = token[0].isupper() and not (token.isupper() and len(token) > 1)
        if token.isupper() and len(token) > 2:
            # ALLCAPS: a first name (AMELIA) or an acronym (NHS, CAMHS: see redact_keep.txt).
            return base in lex.first_names and lex.zipf(base) < NAME_OVER_WORD_ZIPF
        if capitalised and not initial:
            if any(part in lex.first_names for part in parts):
                return True  # Hope, Summer, Will, Autumn-Rose: written as names
            return not lex.is_english(base) and lex.zipf(base) < PROPER_ZIPF  # Okafor; not Leeds
        if capitalised and initial:
            if not lex.is_english(base) and lex.zipf(base) < PROPER_ZIPF:
                return True  # Ngozi, Kwame's
            if len(parts) > 1 and all(part in lex.first_names for part in parts):
                return True  # Harper-Rose
            if base in lex.first_names and (
                token.endswith(("'s", "’s")) or _followed_by_verb(text, words, i)
            ):
                return True  # "Grace has been with us", "Rose's bottom"; not "Grace period"
            return False
        # Lowercase: a word nobody writes in English prose.
        return lex.zipf(base) < RARE_ZIPF and base not in lex.english and len(base) > 2


def _base(token: str) -> str:
    return re.sub(r"['’]s$", "", token.lower())


# Words that follow a name at the start of a sentence ("Hunter is 3", "Faith and Noah",
# "Honey took her first steps"), and so tell a name from a capitalised word.
_AFTER_SUBJECT = {
    "is", "was", "has", "had", "and", "keeps", "kept", "took", "takes", "won't", "wont",
    "can't", "cant", "doesn't", "didn't", "isn't", "wasn't", "hasn't", "refuses", "refused",
    "loves", "loved", "hates", "hated", "likes", "liked", "cries", "cried", "screams",
    "screamed", "started", "starts", "seems", "seemed", "gets", "got", "goes", "went", "will",
    "would", "needs", "needed", "wakes", "woke", "sleeps", "slept", "bites", "bit", "hits",
    "hit", "says", "said", "came", "comes", "turned", "turns", "wants", "wanted", "called",
    "just", "still", "always", "never", "now", "(", "-", "–",
}  # fmt: skip


def _followed_by_verb(text: str, words: list[re.Match[str]], i: int) -> bool:
    rest = text[words[i].end() :].lstrip()
    if rest[:1] in ("(", "-", "–"):
        return True
    return i + 1 < len(words) and words[i + 1].group().lower() in _AFTER_SUBJECT


def _nameable(token: str, lex: Lexicon, *, strict: bool) -> bool:
    """Could `token` be the name a title or relation introduces?"""
    word = re.sub(r"['’]s$", "", token.lower())
    if word in _FUNCTION or word in _RELATIONS or word in lex.keep or _CALENDAR.match(word):
        return False
    if token[0].isupper() and not token.isupper():
        return True
    if not strict:
        return not lex.is_english(word)
    if word in lex.english_first_names and lex.zipf(word) < NAME_IN_CONTEXT_ZIPF:
        return True  # "social worker is jo", "my foster son mason"
    return lex.is_name(word) or (not lex.is_english(word) and lex.zipf(word) < PROPER_ZIPF)


def _adjacent(
    text: str, first: re.Match[str], second: re.Match[str], *, title: bool = False
) -> bool:
    """Only spaces between two words (or a full stop after a title: "Dr. McAllister")."""
    gap = text[first.end() : second.start()].strip()
    return gap == "" or (title and gap == ".")


def _introduces(
    text: str, name: re.Match[str], first: re.Match[str], second: re.Match[str]
) -> bool:
    """`name (my foster son)`, `name, my foster baby`, `name - our little one`."""
    gap = text[name.end() : first.start()]
    return (
        re.fullmatch(r"\s*(?:\(|,|-|–)\s*", gap) is not None
        and first.group().lower() in {"my", "our", "the"}
        and (second.group().lower() in _RELATIONS or second.group().lower() == "foster")
    )


def _named_place(span: str) -> bool:
    """A particular nursery, school or surgery: some word before the kind of place is a name
    ("Little Acorns Nursery", "St Mary's Primary"), not only generic ("the Family Centre")."""
    words = span.split()
    kind = re.search(_PLACE + r"(?:\s+\w+)?$", span, re.IGNORECASE)
    head = span[: kind.start()].split() if kind else words[:-1]
    return any(word.lower().strip(".,") not in _GENERIC for word in head)


def _starts_sentence(text: str, start: int) -> bool:
    return _SENTENCE_END.search(text[:start]) is not None


def _nhs_check(digits: str) -> bool:
    """NHS numbers carry a modulus-11 check digit."""
    if len(digits) != 10 or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


@lru_cache
def _default() -> Redactor:
    return Redactor()


def find_details(text: str) -> list[Detail]:
    return _default().find(text)


def redact(text: str) -> str:
    """`text` with every personal detail replaced by its label: "[name]", "[phone]", ..."""
    return _default()(text)
