"""The `nurture` command line: ingest, check, search, status."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from assistant.config import Settings, get_settings
from assistant.errors import NurtureError

if TYPE_CHECKING:
    from assistant.evaluate import GoldSet

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Nurture: cited guidance for foster carers."
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("ingest").setLevel(logging.INFO)
    logging.getLogger("bm25s").setLevel(logging.WARNING)


def _fail(error: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error}", highlight=False)
    return typer.Exit(code=1)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More logging.")] = False,
) -> None:
    _setup_logging(verbose)


@app.command()
def ingest(
    full: Annotated[bool, typer.Option("--full", help="Re-embed every document.")] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Serve the previous generation again.")
    ] = False,
    activate: Annotated[
        str | None,
        typer.Option(
            "--activate",
            metavar="GENERATION",
            help="Publish a generation built by `nurture preview` (the name it printed).",
        ),
    ] = None,
) -> None:
    """Index the corpus (only what changed), publish a previewed draft, or roll back."""
    from assistant.embeddings import build_embedder
    from assistant.store import open_store
    from ingest.pipeline import Pipeline

    settings = get_settings()
    try:
        pipeline = Pipeline(settings, open_store(settings), build_embedder(settings))
        if rollback:
            active, previous = pipeline.rollback()
            out.print(f"Rolled back: generation {active} is active again (was {previous}).")
            return
        if activate:
            active, previous = pipeline.activate(activate)
            out.print(
                f"Generation {active} is active (previous: {previous or 'none'}; "
                "`nurture ingest --rollback` goes back)."
            )
            return
        report = pipeline.run(full=full, progress=True)
    except NurtureError as error:
        raise _fail(error) from None
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for error in report.errors:
        err.print(f"[bold red]error:[/] {error}", highlight=False)
    for doc_id in report.kept_previous:
        err.print(
            f"[yellow]kept:[/] the previously indexed version of {doc_id} is still being served",
            highlight=False,
        )
    if report.unchanged:
        out.print(
            f"Nothing changed: generation {report.active} keeps serving "
            f"{report.documents} documents, {report.chunks} chunks ({report.seconds:.1f} s)."
        )
    else:
        out.print(
            f"Generation {report.active} is active: {report.documents} documents, "
            f"{report.chunks} chunks; re-embedded {len(report.embedded)} documents "
            f"({report.texts_embedded} chunks), reused {len(report.reused)}, "
            f"removed {len(report.removed)}; {report.questions} question phrasings "
            f"({report.questions_embedded} embedded), {report.sentences} quotable sentences "
            f"({report.sentences_embedded} embedded) ({report.seconds:.1f} s)."
        )
    if report.errors:
        err.print(f"{len(report.errors)} file(s) had errors; fix them and run ingest again.")
        raise typer.Exit(code=1)


@app.command()
def preview(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole report as JSON.")
    ] = False,
) -> None:
    """Build a draft generation from the working corpus (not activated), ask the gold set of
    the draft and the live one, and report what would change."""
    from assistant.embeddings import build_embedder
    from assistant.store import open_store
    from ingest.preview import preview as build_preview

    settings = get_settings()
    try:
        with err.status("building the draft") as status:
            report = build_preview(
                settings,
                open_store(settings),
                build_embedder(settings),
                progress=lambda message: status.update(message),
            )
    except (NurtureError, OSError, ValueError) as error:
        raise _fail(error) from None
    if as_json:
        import json

        out.print_json(json.dumps(report.as_json()))
        return
    for error in report.errors:
        err.print(f"[bold red]error:[/] {error}", highlight=False)
    if report.draft is None:
        out.print("Nothing changed: the working corpus is what the live generation serves.")
        return
    out.print(
        f"Draft generation {report.draft} (live: {report.live or 'none'}): re-embedded "
        f"{len(report.documents_embedded)} documents ({report.texts_embedded} chunks, "
        f"{report.questions_embedded} question phrasings, {report.sentences_embedded} "
        f"sentences); removed {len(report.removed)}.",
        highlight=False,
    )
    if report.bars:
        bars = Table(title="Gold set bars")
        for column in ("bar", "live", "draft"):
            bars.add_column(column)
        for name, values in report.bars.items():
            mark = " [red](drop)[/]" if name in report.drops else ""
            bars.add_row(name, f"{values['live']:.3f}", f"{values['draft']:.3f}{mark}")
        out.print(bars)
    changes = Table(title=f"{len(report.changes)} gold questions change")
    for column in ("change", "question", "live cites", "draft cites"):
        changes.add_column(column)
    for change in report.changes:
        changes.add_row(
            change.kind, change.question, "\n".join(change.live), "\n".join(change.draft)
        )
    out.print(changes)
    out.print(f"Publish with: nurture ingest --activate {report.draft}", highlight=False)


@app.command()
def report(
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="The last N days.")] = 30,
    fmt: Annotated[
        str, typer.Option("--format", help="md (Markdown tables) or csv.", case_sensitive=False)
    ] = "md",
) -> None:
    """The trainers' workspace tables in the terminal (from the stored, redacted records)."""
    from api.storage import Storage
    from api.workspace import Workspace, render
    from assistant.service import Assistant

    if fmt.lower() not in ("md", "csv"):
        raise _fail(ValueError(f"--format {fmt!r}: use md or csv"))
    settings = get_settings()
    try:
        storage = Storage(
            settings.database_path,
            store_questions=settings.store_questions,
            retention_days=settings.retention_days,
        )
        workspace = Workspace(storage, Assistant.from_settings(settings), settings)
        with _LateProgress("clustering unanswered questions") as progress:
            tables = workspace.tables(days, progress)
    except (NurtureError, OSError, RuntimeError) as error:
        raise _fail(error) from None
    out.print(render(tables, fmt.lower()), highlight=False, markup=False, end="")


class _LateProgress:
    """A rich progress bar that appears only once the work has taken over a second."""

    def __init__(
        self, description: str, after: float = 1.0, clock: Callable[[], float] | None = None
    ) -> None:
        import time

        self.description = description
        self.after = after
        self.clock = clock or time.monotonic
        self.started = self.clock()
        self.bar = None
        self.task = None

    def __enter__(self) -> _LateProgress:
        self.started = self.clock()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if self.clock() - self.started < self.after:
                return
            from rich.progress import Progress

            self.bar = Progress(console=err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def check(
    corpus: Annotated[
        Path | None, typer.Argument(help="Corpus folder (default: settings).")
    ] = None,
) -> None:
    """Check the corpus files without indexing them."""
    from ingest.validate import check_corpus

    settings = get_settings()
    try:
        report = check_corpus(
            corpus or settings.corpus_dir,
            today=date.today(),
            review_warn_months=settings.review_warn_months,
            max_section_words=settings.max_section_words,
            max_file_bytes=settings.max_file_bytes,
        )
    except NurtureError as error:
        raise _fail(error) from None
    for finding in report.findings:
        colour = "red" if finding.severity == "error" else "yellow"
        out.print(
            f"[{colour}]{finding.severity}:[/] {finding.where}: {finding.message}", highlight=False
        )
    warnings = len(report.findings) - report.errors
    out.print(f"Checked {report.files} files: {report.errors} error(s), {warnings} warning(s).")
    if report.errors:
        raise typer.Exit(code=1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="How many chunks.")] = 5,
) -> None:
    """Dense retrieval only: ranked chunks with scores and where they come from."""
    from assistant.embeddings import build_embedder
    from assistant.store import open_store

    settings = get_settings()
    try:
        embedder = build_embedder(settings)
        store = open_store(settings)
        generation = store.require_active(embedder.name, embedder.dimension)
        hits = store.query(store.collection(generation.name), embedder.embed_query(query), k)
    except NurtureError as error:
        raise _fail(error) from None
    for rank, (chunk, score) in enumerate(hits, start=1):
        out.print(
            f"[bold]{rank}.[/] {score:.3f}  {chunk.doc_id}#{chunk.anchor}  "
            f"[dim]{chunk.section or chunk.title}[/]",
            highlight=False,
        )
        out.print(
            f"    {chunk.title} · {chunk.type} · {'; '.join(chunk.source_names)}", highlight=False
        )
        snippet = " ".join(chunk.text.split())
        out.print(f"    {snippet[:200]}{'…' if len(snippet) > 200 else ''}", highlight=False)


@app.command()
def status() -> None:
    """Which index generation is serving, how big it is, and which model built it."""
    from assistant.store import open_store

    settings: Settings = get_settings()
    try:
        store = open_store(settings)
        active, previous = store.pointer()
        generation = store.generation(active) if active else None
    except NurtureError as error:
        raise _fail(error) from None
    if generation is None:
        out.print("No index yet: run `nurture ingest`.")
        raise typer.Exit(code=1)
    table = Table(show_header=False)
    table.add_row("active generation", generation.name)
    table.add_row("previous (rollback)", previous or "none")
    table.add_row("built", generation.built_at)
    table.add_row("documents", str(generation.doc_count))
    table.add_row("chunks", str(generation.chunk_count))
    table.add_row("model", f"{generation.model} ({generation.dimension} dims)")
    table.add_row("store", settings.chroma_url or str(settings.chroma_path))
    out.print(table)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The carer's question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
) -> None:
    """Answer a question from the guidance, with numbered sources."""
    from assistant.service import Assistant, check_length

    try:
        settings = get_settings()
        check_length(question, settings.max_question_chars)
        answer = Assistant.from_settings(settings).ask(question)
    except NurtureError as error:
        raise _fail(error) from None
    if as_json:
        out.print_json(answer.model_dump_json())
        return
    out.print(answer.answer, highlight=False, markup=False)
    if answer.citations:
        out.print("\nSources:", highlight=False)
        for citation in answer.citations:
            where = f"{citation.doc_id}#{citation.anchor}" if citation.anchor else citation.doc_id
            out.print(
                f"[{citation.n}] {citation.title} › {citation.section} ({citation.evidence}, "
                f"reviewed {citation.reviewed}) {where}",
                highlight=False,
                markup=False,
            )


@app.command(name="eval")
def evaluate_command(
    as_json: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report to this file.")
    ] = None,
    questions: Annotated[
        Path | None, typer.Option(help="Question set (default: corpus/eval/questions.yaml).")
    ] = None,
    calibrate: Annotated[
        bool, typer.Option("--calibrate", help="Suggest the abstention threshold.")
    ] = False,
    safety: Annotated[
        bool,
        typer.Option(
            "--safety",
            help="Score safety triage on the labelled safety messages (train, dev, blind): "
            "recall, precision, confusion, false alarms and every miss. Needs no index.",
        ),
    ] = False,
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            help="Write every question's answer and citations to FILE.jsonl and, for a blind "
            "grader (question and answer only), FILE.md. Default question set: "
            "corpus/eval/realistic-questions.jsonl.",
        ),
    ] = None,
    split: Annotated[
        str, typer.Option(help="With --answers: dev, held-out or all questions.")
    ] = "all",
) -> None:
    """Score retrieval, abstention, triage and citations on the gold question set."""
    import json

    from assistant.evaluate import GoldSet, evaluate, summary_rows
    from assistant.evaluate import calibrate as calibrate_threshold
    from assistant.service import Assistant
    from ingest.load import document_ids

    settings = get_settings()
    if answers is not None:
        _answer_sheet(settings, answers, questions, split)
        return
    path = questions or settings.corpus_dir / "eval" / "questions.yaml"
    try:
        gold = GoldSet.load(path)
        if safety:
            _safety_eval(settings, gold, as_json)
            return
        unknown = gold.unknown_documents(document_ids(settings.corpus_dir))
        if unknown:
            raise ValueError(
                f"{path} names documents that are not in {settings.corpus_dir}: "
                f"{', '.join(unknown)}; fix their ids"
            )
        assistant = Assistant.from_settings(settings)
        assistant.retrieve("warm up")
        if calibrate:
            out.print_json(json.dumps(calibrate_threshold(assistant, gold)))
            return
        report = evaluate(assistant, gold)
    except (NurtureError, OSError, ValueError) as error:
        raise _fail(error) from None
    table = Table(title=f"Evaluation on {path}")
    table.add_column("measure")
    table.add_column("result")
    for name, value in summary_rows(report):
        table.add_row(name, value)
    out.print(table)
    if as_json:
        as_json.parent.mkdir(parents=True, exist_ok=True)
        as_json.write_text(json.dumps(report, indent=2))
        out.print(f"Wrote {as_json}")


def _safety_eval(settings: Settings, gold: GoldSet, as_json: Path | None) -> None:
    import json

    from assistant.safety import build_triage
    from assistant.safety_eval import evaluate_safety, summary_rows

    triage = build_triage(settings, classifier=True)
    in_scope = [item.question for item in gold.in_scope if item.safety == "none"]
    report = evaluate_safety(triage, settings.safety_data_dir, in_scope)
    table = Table(title=f"Safety triage on {settings.safety_data_dir}")
    table.add_column("measure")
    table.add_column("result")
    for name, value in summary_rows(report):
        table.add_row(name, value)
    out.print(table)
    for split, scores in report["splits"].items():
        for miss in scores["misses"]:
            out.print(
                f"miss [{split}] {miss['id']}: expected {miss['expected']}, got {miss['got']} "
                f"({miss['fired'] or 'nothing fired'}); should catch: {miss['should_catch']}",
                highlight=False,
                markup=False,
            )
    if as_json:
        as_json.parent.mkdir(parents=True, exist_ok=True)
        as_json.write_text(json.dumps(report, indent=2))
        out.print(f"Wrote {as_json}")


@app.command(name="train-safety")
def train_safety(
    seed: Annotated[
        int, typer.Option(help="Random seed (the same data and seed, the same artefact).")
    ] = 13,
) -> None:
    """Fine-tune the safety classifier on the train split, set thresholds on dev, write it."""
    from assistant.safety import build_triage
    from assistant.safety_training import train

    settings = get_settings()
    rules = build_triage(settings)  # patterns and concepts only: no classifier yet
    try:
        classifier, report = train(
            settings.safety_data_dir,
            settings.resolved_model_path(),
            settings.model_name,
            rules.classifier_gate,
            seed=seed,
        )
        classifier.save(settings.safety_classifier_path)
    except (NurtureError, OSError, ValueError) as error:
        raise _fail(error) from None
    out.print(
        f"Wrote {settings.safety_classifier_path} in {report['seconds']} s (thresholds "
        f"{classifier.thresholds}; data {classifier.data_sha256[:12]})",
        highlight=False,
    )


def _answer_sheet(settings: Settings, target: Path, questions: Path | None, split: str) -> None:
    import json

    from assistant.answer_sheet import answer_sheet, load_questions, sheet_summary
    from assistant.service import Assistant

    if split not in ("dev", "held-out", "all"):
        raise _fail(ValueError(f"--split must be dev, held-out or all, not {split!r}"))
    path = questions or settings.corpus_dir / "eval" / "realistic-questions.jsonl"
    try:
        items = load_questions(path)
        assistant = Assistant.from_settings(settings)
        assistant.retrieve("warm up")
        items = [item for item in items if split in ("all", item.assigned_split)]
        rows = answer_sheet(assistant, items)
    except (NurtureError, OSError, ValueError) as error:
        raise _fail(error) from None
    from assistant.answer_sheet import write_sheet

    as_json, as_md = write_sheet(rows, target)
    summary = sheet_summary(rows)
    table = Table(title=f"Answers to {path} ({split})")
    table.add_column("measure")
    shown = [name for name in summary if summary[name]["in_scope"] + summary[name]["out_of_scope"]]
    for name in shown:
        table.add_column(name)
    for measure in summary["all"]:
        table.add_row(measure, *(str(summary[name][measure]) for name in shown))
    out.print(table)
    labels_path = path.with_name("realistic-topics.yaml")
    if path.suffix == ".jsonl" and labels_path.exists():
        from assistant.answer_sheet import load_topic_labels, topic_recall

        labels = load_topic_labels(labels_path)
        retrieval = Table(title=f"Document retrieval against the weak labels in {labels_path}")
        retrieval.add_column("split")
        retrieval.add_column("question index")
        retrieval.add_column("result")
        for name in ("dev", "held-out"):
            part = [item for item in items if item.assigned_split == name]
            if not part:
                continue
            for use in (True, False):
                scores = topic_recall(assistant, part, labels, use)
                summary[name][f"retrieval_{'with' if use else 'without'}_question_index"] = scores
                retrieval.add_row(
                    name,
                    "with" if use else "without",
                    "  ".join(f"{k} {v}" for k, v in scores.items()),
                )
        out.print(retrieval)
    target.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2))
    out.print(f"Wrote {as_json} and {as_md}")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address (default: settings, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings, 8000).")] = None,
) -> None:
    """Serve the API and the carers' chat page."""
    import uvicorn

    from api.app import create_app
    from api.server import server_config

    settings = get_settings()
    logging.getLogger("api.access").setLevel(logging.INFO)
    config = server_config(
        create_app(settings),
        settings,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )
    uvicorn.Server(config).run()
