"""Request and response models of the HTTP API, in one place."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from assistant import Answer, Citation, DocType, Filters, SafetyInfo


class ErrorDetail(BaseModel):
    type: str = Field(description="A short machine-readable error kind.")
    message: str = Field(description="What went wrong and what to do.")
    request_id: str
    fields: list[str] = Field(default_factory=list, description="Request fields at fault.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogates(value: Any, location: tuple[str | int, ...]) -> Iterator[InitErrorDetails]:
    if isinstance(value, str):
        if match := _LONE_SURROGATE.search(value):
            yield InitErrorDetails(
                type=PydanticCustomError(
                    "unpaired_surrogate",
                    "text holds an unpaired surrogate ({code}); send valid Unicode text",
                    {"code": f"\\u{ord(match.group()):04x}"},
                ),
                loc=location,
                input=value,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _surrogates(key, location)
            yield from _surrogates(item, (*location, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _surrogates(item, (*location, index))


class RequestBody(BaseModel):
    """A request body. JSON may spell a lone surrogate (`"\\ud800"`); Python keeps it in the
    string, and SQLite, the tokenizer or the reply would fail on it later. Every request body
    refuses one anywhere (extra fields included) with a 422 naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _no_lone_surrogates(cls, data: Any) -> Any:
        problems = list(_surrogates(data, ()))
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return data


class AskRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(
        min_length=1,
        description="The carer's question, up to NURTURE_MAX_QUESTION_CHARS (2000) characters.",
    )
    conversation_id: str | None = Field(
        None, max_length=64, description="Continue this conversation (follow-up questions)."
    )
    filters: Filters | None = None


class AskResponse(Answer):
    answer_id: str = Field(description="Use this id to send feedback.")
    conversation_id: str


class StreamStart(BaseModel):
    """First SSE event (`start`): sent before any generation work."""

    answer_id: str
    conversation_id: str
    safety: SafetyInfo
    citations: list[Citation] = Field(description="Sources the answer may cite, by number.")
    abstained: bool


class StreamDelta(BaseModel):
    """`delta` events carry the answer text in order."""

    text: str


class SearchHit(BaseModel):
    rank: int
    score: float
    dense: float | None
    lexical: float | None
    chunk_id: str
    doc_id: str
    title: str
    section: str
    anchor: str
    type: DocType
    source: str
    url: str | None
    reviewed: date
    text: str


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHit]


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    type: DocType
    summary: str
    topics: list[str]
    age_range: str | None
    reviewed: date
    sources: list[dict[str, Any]]


class SectionOut(BaseModel):
    heading: str
    heading_path: list[str]
    anchor: str
    text: str
    start: int
    end: int


class DocumentDetail(DocumentSummary):
    jurisdiction: str | None
    audience: str | None
    sections: list[SectionOut]


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class FeedbackRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")
    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    id: int
    answer_id: str
    rating: Literal["up", "down"]


# -- OpenAI-compatible chat ------------------------------------------------------------


class ChatContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ChatContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(RequestBody):
    model_config = ConfigDict(extra="allow")  # temperature, top_p ... are accepted and ignored
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class ChatResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatResponseMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage = Field(default_factory=Usage)
    citations: list[Citation] = Field(description="Structured sources of the reply (Nurture).")
    nurture: dict[str, Any] = Field(description="safety, abstained, answer_id (Nurture).")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "nurture"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: str = Field(description="ready, degraded (see problems) or ok (/healthz).")
    generation: str | None = None
    reason: str | None = None
    problems: list[str] = Field(
        default_factory=list, description="What is wrong: 'retrieval: ...', 'storage: ...'."
    )
