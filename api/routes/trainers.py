"""GET /v1/trainers/...: the trainers' workspace (behind a trainer key; see `require_trainer_key`).

Every response is built from stored, redacted text: no conversation or answer ids, no paths."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from api.deps import AssistantDep, SettingsDep
from api.errors import ErrorResponse, NotFoundError
from api.schemas import RequestBody
from api.workspace import Table, Workspace
from assistant import Answer
from ingest.preview import draft_assistant, load, sections_of

router = APIRouter(prefix="/trainers", tags=["trainers"])
ERRORS = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}
Days = Annotated[int, Query(ge=1, le=365, description="The last N days (1-365).")]
TableName = Literal[
    "unanswered", "unhelpful", "usage_daily", "usage_safety", "cited", "never_cited", "review_due"
]


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def _tables(request: Request, days: int) -> dict[str, Table]:
    return {table.name: table for table in workspace(request).tables(days)}


@router.get("/unanswered", responses=ERRORS)
def unanswered(request: Request, days: Days = 30) -> dict[str, Any]:
    """Declined questions, clustered by meaning, with the closest section and suggestions."""
    return workspace(request).unanswered(days).as_json()


@router.get("/unhelpful", responses=ERRORS)
def unhelpful(request: Request, days: Days = 30) -> dict[str, Any]:
    """Thumbs-down answers with their comments, grouped by cited section."""
    return workspace(request).unhelpful(days).as_json()


@router.get("/usage", responses=ERRORS)
def usage(request: Request, days: Days = 30) -> dict[str, Any]:
    """Questions per day, share declined, safety messages per category per week (counts)."""
    return {"tables": [table.as_json() for table in workspace(request).usage(days)]}


@router.get("/coverage", responses=ERRORS)
def coverage(request: Request, days: Days = 30) -> dict[str, Any]:
    """Most cited sections, and documents never cited in the period."""
    return {"tables": [table.as_json() for table in workspace(request).coverage(days)]}


@router.get("/review", responses=ERRORS)
def review(request: Request) -> dict[str, Any]:
    """Documents whose `reviewed` date is older than NURTURE_REVIEW_MONTHS."""
    return workspace(request).review_due().as_json()


@router.get(
    "/csv/{name}",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **ERRORS},
)
def table_csv(request: Request, name: TableName, days: Days = 30) -> Response:
    """One table as CSV (the same rows as the page)."""
    table = _tables(request, days)[name]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    for row in table.rows:
        # A cell starting with = + - @ would run as a formula in a spreadsheet.
        writer.writerow(
            ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row]
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="nurture-{name}-{days}d.csv"'},
    )


@router.get("/preview", responses=ERRORS)
def preview_report(settings: SettingsDep, assistant: AssistantDep) -> dict[str, Any]:
    """The latest `nurture preview`: what changes on the gold set if the draft is published."""
    report = load(settings)
    store = assistant.retriever.store if assistant.retriever else None
    draft = store.draft() if store is not None else None
    if report is None or draft is None or report.get("draft") != draft[0]:
        raise NotFoundError("there is no draft to preview: run `nurture preview`")
    return report


class TryRequest(RequestBody):
    question: str = Field(min_length=1, max_length=2000)


def _brief(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.answer,
        "abstained": answer.abstained,
        "safety": answer.safety.category,
        "sections": sections_of(answer),
        "citations": [
            {"n": c.n, "title": c.title, "section": c.section, "doc_id": c.doc_id}
            for c in answer.citations
        ],
    }


@router.post("/try", responses=ERRORS)
def try_question(
    body: TryRequest, request: Request, settings: SettingsDep, assistant: AssistantDep
) -> dict[str, Any]:
    """Ask the live generation and the draft side by side (nothing is stored)."""
    live = assistant.ask(body.question)
    store = assistant.retriever.store if assistant.retriever else None
    draft = store.draft() if store is not None else None
    result: dict[str, Any] = {"live": _brief(live), "draft": None}
    if draft is not None and assistant.embedder is not None:
        cached = getattr(request.app.state, "draft_assistant", None)
        if cached is None or cached[0] != draft[0]:
            built = draft_assistant(settings, store, draft[0], assistant.embedder)
            cached = request.app.state.draft_assistant = (draft[0], built)
        result["draft"] = _brief(cached[1].ask(body.question))
    return result
