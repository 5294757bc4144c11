"""POST /v1/ask and POST /v1/ask/stream (Server-Sent Events)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import AssistantDep, MetricsDep, RecentDep, SettingsDep, StorageDep
from api.errors import ErrorResponse
from api.routes.conversation import check_question, history_for, remember
from api.schemas import AskRequest, AskResponse, ErrorDetail, StreamDelta, StreamStart
from assistant.compose import split_answer

router = APIRouter(tags=["ask"])
ERRORS = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@router.post("/ask", response_model=AskResponse, responses=ERRORS)
def ask(
    body: AskRequest,
    assistant: AssistantDep,
    storage: StorageDep,
    recent: RecentDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> AskResponse:
    """Answer a question from the guidance. Every sentence carries [n] citation markers."""
    check_question(body.question, settings, "question")
    history = history_for(body.conversation_id, storage, recent, settings)
    answer = assistant.ask(body.question, history, body.filters)
    answer_id, conversation_id = remember(
        storage, recent, body.conversation_id, body.question, answer
    )
    metrics.observe_answer(answer)
    return AskResponse(**answer.model_dump(), answer_id=answer_id, conversation_id=conversation_id)


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


@router.post(
    "/ask/stream",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Events: `start` (StreamStart), `delta` (StreamDelta), "
            "`done` (AskResponse), or `error` (ErrorDetail).",
        },
        **ERRORS,
    },
)
def ask_stream(
    body: AskRequest,
    assistant: AssistantDep,
    storage: StorageDep,
    recent: RecentDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> StreamingResponse:
    """The same answer as /v1/ask, streamed: sources first, then the text, then the whole."""
    check_question(body.question, settings, "question")
    history = history_for(body.conversation_id, storage, recent, settings)
    prepared = assistant.prepare(body.question, history, body.filters)
    answer_id = uuid.uuid4().hex
    conversation_id = body.conversation_id or storage.new_conversation()

    def events() -> Iterator[str]:
        start = StreamStart(
            answer_id=answer_id,
            conversation_id=conversation_id,
            safety={"category": prepared.safety.category, "message": prepared.safety.message},
            citations=prepared.sources,
            abstained=prepared.abstain_reason is not None,
        )
        yield sse("start", start.model_dump_json())
        try:
            answer = assistant.finish(prepared)
            for piece in split_answer(answer.answer):
                yield sse("delta", StreamDelta(text=piece).model_dump_json())
            remember(storage, recent, conversation_id, body.question, answer, answer_id)
            metrics.observe_answer(answer)
            done = AskResponse(
                **answer.model_dump(), answer_id=answer_id, conversation_id=conversation_id
            )
            yield sse("done", done.model_dump_json())
        except Exception as error:  # noqa: BLE001 - the stream has started: report in-band
            detail = ErrorDetail(
                type="internal_error",
                message=f"the answer could not be finished ({type(error).__name__}); try again",
                request_id=answer_id,
            )
            yield sse("error", json.dumps(detail.model_dump()))

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
