"""Topic fit: sentences about alarming topics (emergencies, abuse, shaking, losing control) are
quoted only into answers to questions about that topic, or after a safety message.

The topics and their word patterns live in `prompts/alarming.yaml`, reviewed like corpus text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

ALARMING_FILE = Path(__file__).parent / "prompts" / "alarming.yaml"


@dataclass(frozen=True)
class AlarmingTopic:
    name: str
    sentence: re.Pattern[str]
    question: re.Pattern[str]
    documents: frozenset[str] = frozenset()


class TopicFit:
    def __init__(self, topics: list[AlarmingTopic]) -> None:
        self.topics = topics

    @classmethod
    def load(cls, path: Path = ALARMING_FILE) -> TopicFit:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]
        return cls(
            [
                AlarmingTopic(
                    name,
                    re.compile(spec["sentence"], re.IGNORECASE),
                    re.compile(spec["question"], re.IGNORECASE),
                    frozenset(spec.get("documents") or ()),
                )
                for name, spec in data.items()
            ]
        )

    def alarming(self, sentence: str) -> list[str]:
        """The alarming topics a sentence is about."""
        return [topic.name for topic in self.topics if topic.sentence.search(sentence)]

    def asked_about(self, question: str) -> set[str]:
        """The alarming topics the carer's question itself raises."""
        return {topic.name for topic in self.topics if topic.question.search(question)}

    def section_topics(self, heading: str, topics: list[str]) -> set[str]:
        """The alarming topics a section is about (its heading and its document's topics)."""
        about = set(self.alarming(heading))
        return about | {topic.name for topic in self.topics if topic.documents & set(topics)}

    def section_allowed(
        self, heading: str, topics: list[str], asked: set[str], triaged: bool = False
    ) -> bool:
        """Whether a section (its heading and its document's topics) may be quoted at all."""
        return triaged or self.section_topics(heading, topics) <= asked

    def allows(self, sentence: str, asked: set[str], triaged: bool = False) -> bool:
        """A sentence may be quoted when it raises no alarming topic the question did not."""
        return triaged or set(self.alarming(sentence)) <= asked


@lru_cache
def default_topic_fit() -> TopicFit:
    return TopicFit.load()
