"""GET /v1/search: ranked passages with their provenance (retrieval only, no answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AssistantDep
from api.routes.ask import ERRORS
from api.schemas import SearchHit, SearchResponse

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResponse, responses=ERRORS)
def search(
    assistant: AssistantDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    k: Annotated[int, Query(ge=1, le=50, description="How many passages.")] = 5,
) -> SearchResponse:
    retrieval = assistant.retrieve(q, k=k)
    hits = [
        SearchHit(
            rank=rank,
            score=round(hit.score, 6),
            dense=hit.dense,
            lexical=hit.lexical,
            chunk_id=hit.chunk.id,
            doc_id=hit.chunk.doc_id,
            title=hit.chunk.title,
            section=hit.chunk.section,
            anchor=hit.chunk.anchor,
            type=hit.chunk.type,
            source=hit.chunk.source,
            url=hit.chunk.url,
            reviewed=hit.chunk.reviewed,
            text=hit.chunk.text,
        )
        for rank, hit in enumerate(retrieval.hits, start=1)
    ]
    return SearchResponse(query=q, hits=hits)
