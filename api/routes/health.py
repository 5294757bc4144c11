"""GET /healthz (process up), /readyz (what can serve), /metrics (Prometheus).

`/readyz` checks that retrieval answers (a canary query) and that storage is writable (a row
written and rolled back):

| status | code | meaning |
|---|---|---|
| `ready` | 200 | answers, citations and storage all work |
| `degraded` | 200 | answers work but storage does not (nothing is saved; see `problems`) |
| `degraded` | 503 | only safety triage can serve: questions get 503 with Retry-After |

Retrieval down is 503 so that a load balancer prefers instances that can answer; safety triage
still answers on a degraded instance, so a balancer that fails open when every instance is
unready (most do) keeps serving safety messages.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import AssistantDep, MetricsDep, StorageDep
from api.schemas import Health

router = APIRouter(tags=["health"])
CANARY = "how do I settle a crying baby"


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(assistant: AssistantDep, storage: StorageDep) -> Health | JSONResponse:
    problems: list[str] = []
    generation = None
    retrieval_ok = False
    try:
        retrieval = assistant.retrieve(CANARY)
        if not retrieval.hits:
            raise RuntimeError("the canary query found nothing")
        generation = assistant.generation
        retrieval_ok = True
    except Exception as error:  # noqa: BLE001 - any failure means retrieval is down, with why
        problems.append(f"retrieval: {type(error).__name__}: {error}")
    storage_problem = storage.check_writable()
    if storage_problem:
        problems.append(f"storage: {storage_problem}")
    if not problems:
        return Health(status="ready", generation=generation)
    body = Health(
        status="degraded", generation=generation, reason="; ".join(problems), problems=problems
    )
    if retrieval_ok:
        return body
    return JSONResponse(body.model_dump(), status_code=503)


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
