"""OpenAI-compatible chat: POST /v1/chat/completions (stream and not) and GET /v1/models.

The reply text ends with a "Sources" list, so any client shows where each sentence comes from;
the same citations also travel as data (`citations` on the response and on the final chunk)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.conversations import Conversations
from api.deps import AssistantDep, ConversationsDep, SettingsDep
from api.errors import InvalidRequestError
from api.routes.ask import ERRORS
from api.schemas import (
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatResponseMessage,
    ModelCard,
    ModelList,
)
from assistant import Answer, Message, Settings, split_answer

router = APIRouter(tags=["openai"])
_STARTED = int(time.time())


def sources_list(answer: Answer) -> str:
    if not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for citation in answer.citations:
        line = (
            f"[{citation.n}] {citation.title} › {citation.section or 'Introduction'} "
            f"({citation.evidence}, reviewed {citation.reviewed.isoformat()})"
        )
        if citation.url:
            line += f" {citation.url}"
        lines.append(line)
    return "\n".join(lines)


def _conversation(
    body: ChatCompletionRequest, settings: Settings, conversations: Conversations
) -> tuple[str, list[Message]]:
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise InvalidRequestError(
            "messages: the last message must be from the user",
            fields=["messages"],
        )
    if len(body.messages) > settings.max_history_messages + 1:
        raise InvalidRequestError(
            f"messages: {len(body.messages)} messages; send at most "
            f"{settings.max_history_messages + 1} (the question and its recent history)",
            fields=["messages"],
        )
    question = turns[-1].text()
    conversations.check(question, f"messages.{len(body.messages) - 1}.content")
    history = [Message(role=m.role, content=m.text()) for m in turns[:-1]]  # type: ignore[arg-type]
    return question, history


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "A chat.completion, or with `stream: true` chat.completion.chunk "
            "events ending in `data: [DONE]`; the last chunk carries `citations`.",
        },
        **ERRORS,
    },
)
def chat_completions(
    body: ChatCompletionRequest,
    assistant: AssistantDep,
    conversations: ConversationsDep,
    settings: SettingsDep,
) -> ChatCompletionResponse | StreamingResponse:
    """Point any OpenAI client here. `messages` carry the conversation; the model name is
    accepted as given."""
    question, history = _conversation(body, settings, conversations)
    answer = assistant.ask(question, history)
    answer_id, _ = conversations.record(None, question, answer)
    content = answer.answer + sources_list(answer)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    extra = {
        "answer_id": answer_id,
        "safety": answer.safety.model_dump(),
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
    }
    citations = [c.model_dump(mode="json") for c in answer.citations]
    if not body.stream:
        return ChatCompletionResponse(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[ChatChoice(message=ChatResponseMessage(content=content))],
            citations=answer.citations,
            nurture=extra,
        )

    def chunk(delta: dict, finish: str | None = None, **more: object) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **more,
        }
        return f"data: {json.dumps(payload)}\n\n"

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        for piece in split_answer(answer.answer):
            yield chunk({"content": piece})
        if answer.citations:
            yield chunk({"content": sources_list(answer)})
        yield chunk({}, "stop", citations=citations, nurture=extra)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/models", response_model=ModelList)
def models(settings: SettingsDep) -> ModelList:
    return ModelList(data=[ModelCard(id=settings.openai_model_id, created=_STARTED)])
