"""The one error tree of Nurture.

    NurtureError
     ├── CorpusError              a corpus file cannot be used (names the file and field)
     ├── ConfigError              a setting is wrong or missing
     ├── IndexNotReadyError       no usable index: never ingested, or built by another model
     ├── IngestLockedError        another ingest is already writing
     ├── GeneratorUnavailableError  the configured LLM cannot be reached
     └── QuestionError            the question cannot be used as given (e.g. over the limit)

Each error that can reach HTTP knows its status code.
"""

from __future__ import annotations


class NurtureError(Exception):
    status_code: int = 500


class CorpusError(NurtureError):
    status_code = 422

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


class IndexNotReadyError(NurtureError):
    status_code = 503


class IngestLockedError(NurtureError):
    status_code = 409


class GeneratorUnavailableError(NurtureError):
    status_code = 503


class QuestionError(NurtureError):
    status_code = 422
