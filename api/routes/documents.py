"""GET /v1/documents and /v1/documents/{doc_id}: what a citation opens."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AssistantDep
from api.errors import NotFoundError
from api.routes.ask import ERRORS
from api.schemas import DocumentDetail, DocumentList, DocumentSummary, SectionOut
from assistant import Document

router = APIRouter(tags=["documents"])


def summary(doc: Document) -> dict:
    return {
        "doc_id": doc.id,
        "title": doc.meta.title,
        "type": doc.meta.type,
        "summary": doc.meta.summary,
        "topics": doc.meta.topics,
        "age_range": doc.meta.age_range,
        "reviewed": doc.meta.reviewed,
        "sources": [source.model_dump() for source in doc.meta.sources],
    }


@router.get("/documents", response_model=DocumentList, responses=ERRORS)
def list_documents(assistant: AssistantDep) -> DocumentList:
    return DocumentList(
        documents=[DocumentSummary(**summary(doc)) for doc in assistant.documents().values()]
    )


@router.get("/documents/{doc_id:path}", response_model=DocumentDetail, responses=ERRORS)
def get_document(doc_id: str, assistant: AssistantDep) -> DocumentDetail:
    doc = assistant.documents().get(doc_id)
    if doc is None:
        raise NotFoundError(f"no document {doc_id!r}; see GET /v1/documents")
    return DocumentDetail(
        **summary(doc),
        jurisdiction=doc.meta.jurisdiction,
        audience=doc.meta.audience,
        sections=[
            SectionOut(
                heading=section.heading_path[-1] if section.heading_path else "",
                heading_path=section.heading_path,
                anchor=section.anchor,
                text=section.text,
                start=section.start,
                end=section.end,
            )
            for section in doc.sections
        ],
    )
