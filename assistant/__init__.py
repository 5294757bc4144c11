"""Nurture's answering core. The public surface is `__all__`; everything else may change."""

from assistant.clusters import Cluster, cluster_vectors
from assistant.compose import split_answer
from assistant.config import Settings, get_settings
from assistant.errors import (
    ConfigError,
    CorpusError,
    GeneratorUnavailableError,
    IndexNotReadyError,
    IngestLockedError,
    NurtureError,
    QuestionError,
)
from assistant.models import (
    Answer,
    Citation,
    DocType,
    Document,
    Message,
    RelatedDocument,
    SafetyInfo,
)
from assistant.retrieve import Filters
from assistant.service import Assistant

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "Cluster",
    "ConfigError",
    "CorpusError",
    "DocType",
    "Document",
    "Filters",
    "GeneratorUnavailableError",
    "IndexNotReadyError",
    "IngestLockedError",
    "Message",
    "NurtureError",
    "QuestionError",
    "RelatedDocument",
    "SafetyInfo",
    "Settings",
    "cluster_vectors",
    "get_settings",
    "split_answer",
]
