"""The one error tree of Nurture.

    NurtureError                   internal_error          500
     ├── CorpusError               corpus_invalid          422  names the file and field
     ├── ConfigError               config_invalid          500  a setting is wrong or missing
     ├── IndexNotReadyError        index_not_ready         503  never ingested, or another model
     ├── IngestLockedError         ingest_locked           409  another ingest is writing
     ├── GeneratorUnavailableError generator_unavailable   503  the configured LLM can't be reached
     └── QuestionError             question_invalid        422  the question can't be used as given

Each error declares its HTTP status and its `kind`: the `error.type` a client reads in the JSON
body. Kinds are API: snake_case, declared here and in `api/errors.py`, never derived from a class
name, never renamed.
"""

from __future__ import annotations

from typing import ClassVar


class NurtureError(Exception):
    status_code: ClassVar[int] = 500
    kind: ClassVar[str] = "internal_error"


class CorpusError(NurtureError):
    status_code = 422
    kind = "corpus_invalid"

    def __init__(
        self, path: str, message: str, *, field: str | None = None, line: int | None = None
    ):
        self.path = path
        self.field = field
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")


class ConfigError(NurtureError):
    status_code = 500
    kind = "config_invalid"


class IndexNotReadyError(NurtureError):
    status_code = 503
    kind = "index_not_ready"


class IngestLockedError(NurtureError):
    status_code = 409
    kind = "ingest_locked"


class GeneratorUnavailableError(NurtureError):
    status_code = 503
    kind = "generator_unavailable"


class QuestionError(NurtureError):
    status_code = 422
    kind = "question_invalid"
