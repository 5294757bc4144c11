"""GET /healthz (process up), /readyz (index loaded and answering), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import AssistantDep, MetricsDep
from api.schemas import Health

router = APIRouter(tags=["health"])
CANARY = "how do I settle a crying baby"


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(assistant: AssistantDep) -> Health | JSONResponse:
    try:
        retrieval = assistant.retrieve(CANARY)
        if not retrieval.hits:
            raise RuntimeError("the canary query found nothing")
        generation = assistant.retriever.view().generation if assistant.retriever else None
    except Exception as error:  # noqa: BLE001 - any failure means not ready, with the reason
        body = Health(status="not ready", reason=f"{type(error).__name__}: {error}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ready", generation=generation)


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
