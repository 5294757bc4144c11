"""POST /v1/ask and POST /v1/ask/stream (Server-Sent Events)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import AssistantDep, ConversationsDep
from api.errors import ErrorResponse, InternalError, log_unexpected
from api.schemas import AskRequest, AskResponse, ErrorDetail, StreamDelta, StreamStart
from assistant import NurtureError, split_answer

router = APIRouter(tags=["ask"])
ERRORS = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@router.post("/ask", response_model=AskResponse, responses=ERRORS)
def ask(body: AskRequest, assistant: AssistantDep, conversations: ConversationsDep) -> AskResponse:
    """Answer a question from the guidance. Every sentence carries [n] citation markers."""
    conversations.check(body.question, "question")
    history = conversations.history(
        body.conversation_id, urgent=lambda: assistant.urgent(body.question)
    )
    answer = assistant.ask(body.question, history, body.filters)
    answer_id, conversation_id = conversations.record(body.conversation_id, body.question, answer)
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
    body: AskRequest, request: Request, assistant: AssistantDep, conversations: ConversationsDep
) -> StreamingResponse:
    """The same answer as /v1/ask, streamed: sources first, then the text, then the whole."""
    request_id = request.state.request_id
    conversations.check(body.question, "question")
    history = conversations.history(
        body.conversation_id, urgent=lambda: assistant.urgent(body.question)
    )
    prepared = assistant.prepare(body.question, history, body.filters)
    answer_id = uuid.uuid4().hex
    conversation_id = body.conversation_id or conversations.start()

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
            conversations.record(conversation_id, body.question, answer, answer_id)
            done = AskResponse(
                **answer.model_dump(), answer_id=answer_id, conversation_id=conversation_id
            )
            yield sse("done", done.model_dump_json())
        except Exception as error:  # noqa: BLE001 - the stream has started: report in-band
            if isinstance(error, NurtureError):
                kind = error.kind
            else:
                kind = InternalError.kind
                log_unexpected(error, "/v1/ask/stream", request_id)
            detail = ErrorDetail(
                type=kind,
                message=f"the answer could not be finished ({type(error).__name__}); try again",
                request_id=request_id,
            )
            yield sse("error", detail.model_dump_json())

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
