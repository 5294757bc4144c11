"""An LLM-backed `Generator` through LangChain, as an option in front of the extractive composer.

The model sees only the numbered passages and must quote whole sentences from them, each ending
with its passage number. A sentence without a valid number is dropped, never shown uncited. The
`FallbackGenerator` it is wrapped in (built once, `service.build_generator`) keeps its reply
only when every sentence is a quote of the passage it cites and fits the question's topic;
otherwise, or if the model cannot be reached (`GeneratorUnavailableError`), the carer gets the
quoted answer."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from assistant.compose import Passage, Sentence
from assistant.config import Settings
from assistant.errors import GeneratorUnavailableError
from assistant.models import Message

logger = logging.getLogger(__name__)

PROMPT = Path(__file__).parent / "prompts" / "answer.md"
# A sentence: text up to its end mark, then any [n] markers, then a space or the end.
_SENTENCE = re.compile(r"\s*(.+?[.!?][\"')]?)((?:\s*\[\d+\])*)(?=\s|$)", re.DOTALL)
_NUMBER = re.compile(r"\[(\d+)\]")
NO_ANSWER = "NO ANSWER"


class LLMGenerator:
    def __init__(
        self, model: BaseChatModel, max_sentences: int = 5, history_turns: int = 4
    ) -> None:
        self.model = model
        self.max_sentences = max_sentences
        self.history_turns = history_turns
        self.instructions = PROMPT.read_text(encoding="utf-8")

    def generate(
        self,
        question: str,
        passages: list[Passage],
        history: list[Message],
        *,
        triaged: bool = False,  # noqa: ARG002 - the contract check (FallbackGenerator) applies it
        closest: bool = False,
    ) -> list[Sentence]:
        if closest:
            passages = passages[:1]
        try:
            reply = self.model.invoke(self.messages(question, passages, history))
        except Exception as error:
            raise GeneratorUnavailableError(
                f"the language model could not be reached ({type(error).__name__})"
            ) from error
        return self.parse(str(reply.content), len(passages))

    def messages(
        self, question: str, passages: list[Passage], history: list[Message]
    ) -> list[BaseMessage]:
        numbered = "\n\n".join(
            f"[{n}] {p.chunk.title} > {p.chunk.section}\n{p.chunk.text}"
            for n, p in enumerate(passages, start=1)
        )
        earlier: list[BaseMessage] = [
            HumanMessage(m.content) if m.role == "user" else AIMessage(m.content)
            for m in history[-self.history_turns :]
        ]
        return [
            SystemMessage(f"{self.instructions}\n\nPassages:\n\n{numbered}"),
            *earlier,
            HumanMessage(question),
        ]

    def parse(self, reply: str, passage_count: int) -> list[Sentence]:
        if reply.strip().upper().startswith(NO_ANSWER):
            return []
        sentences: list[Sentence] = []
        for match in _SENTENCE.finditer(reply):
            numbers = [int(n) for n in _NUMBER.findall(match.group(2))]
            valid = [n for n in numbers if 1 <= n <= passage_count]
            if not valid:
                logger.info("dropped a generated sentence citing no given passage")
                continue
            text = " ".join(match.group(1).split())
            sentences.append(Sentence(text=text, passage=valid[0] - 1))
            if len(sentences) == self.max_sentences:
                break
        return sentences


def build_llm_generator(settings: Settings) -> LLMGenerator | None:
    """The configured OpenAI-compatible model, or None when `NURTURE_LLM_BASE_URL` is empty."""
    if not settings.llm_base_url:
        return None
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value() or "unused",
        temperature=0,
        timeout=settings.llm_timeout_seconds,
        max_retries=1,
    )
    return LLMGenerator(model, max_sentences=settings.max_answer_sentences)
