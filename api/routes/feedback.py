"""POST /v1/feedback: thumbs up or down on an answer, with an optional comment."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import StorageDep
from api.errors import NotFoundError, StorageUnavailableError
from api.routes.ask import ERRORS
from api.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
def feedback(body: FeedbackRequest, storage: StorageDep) -> FeedbackResponse:
    """One record per answer: sending again updates the rating, and adds or keeps the comment."""
    known = storage.answer_exists(body.answer_id)
    # Unknown while writes are failing: the answer was probably not saved, so say so.
    if known is False and storage.available:
        raise NotFoundError(f"answer_id {body.answer_id!r} is not known", fields=["answer_id"])
    feedback_id = None
    if known:
        feedback_id = storage.save_feedback(body.answer_id, body.rating, body.comment)
    if feedback_id is None:
        raise StorageUnavailableError(
            "your feedback could not be saved just now; please try again later",
            headers={"Retry-After": "60"},
        )
    return FeedbackResponse(id=feedback_id, answer_id=body.answer_id, rating=body.rating)
