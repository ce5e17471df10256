"""What the answer engine returns: passages, checked citations, the answer, and stream events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Passage:
    """A retrieved chunk, with its place in the source and its scores."""

    id: str
    text: str
    source: str
    title: str
    heading: str
    start_line: int
    end_line: int
    span_unit: str = "line"
    score: float = 0.0  # final ranking score (fused / reranked)
    similarity: float = 0.0  # cosine similarity to the (standalone) question
    coverage: float = 0.0  # IDF-weighted share of the question's terms found in the passage
    dense_rank: int | None = None
    bm25_rank: int | None = None
    page: int | None = None  # PDF page; ``lines`` are then lines of the page's extracted text
    root: str = ""  # the folder the source was ingested from (absolute); "" if unknown
    sentence_similarity: float | None = None  # its closest sentence's cosine to the question (set before the gate)
    part: str = ""  # the part of a many-part question it is the best passage for (see retrieve.with_each_part)

    @property
    def relevance(self) -> float:
        """What reranking and the citable window look at: cosine similarity + query-term coverage (0..2)."""
        return self.similarity + self.coverage

    @property
    def gate_relevance(self) -> float:
        """What abstention looks at: the passage's or, if higher, its closest sentence's cosine + coverage (0..2).
        A chunk on eight companies is far from "Which conference did Netflix write an update for?" as a whole,
        though one of its sentences answers it."""
        return max(self.similarity, self.sentence_similarity or 0.0) + self.coverage

    @property
    def lines(self) -> tuple[int, int]:
        """(start, end) line span, 1-based inclusive: in the file, or in a PDF page's text (pages when
        ``span_unit`` is "page": a PDF ingested before pages were recorded)."""
        return (self.start_line, self.end_line)

    def summary(self) -> dict[str, Any]:
        """The fields ``--json``'s ``retrieved`` list shows."""
        return {
            "source": self.source,
            "heading": self.heading,
            "lines": list(self.lines),
            "page": self.page,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "coverage": round(self.coverage, 4),
            "relevance": round(self.relevance, 4),
        }


@dataclass
class Citation:
    """A checked citation: which passage, where it is, and the exact supporting quote."""

    number: int
    source: str
    title: str
    heading: str
    lines: tuple[int, int]
    quote: str  # the passage sentence that supports the answer (verbatim from the passage)
    passage: str  # the whole passage text
    score: float = 0.0
    span_unit: str = "line"  # "page": ``lines`` are pages (a PDF ingested before pages were recorded)
    page: int | None = None  # PDF page; ``lines`` are then the lines of that page's extracted text
    root: str = ""  # the folder the source was ingested from (absolute), to find it for a preview

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["lines"] = list(self.lines)
        return data


@dataclass
class AnswerSentence:
    """One sentence of the answer, the citations that back it, and whether any passage supports it."""

    text: str
    citations: list[int] = field(default_factory=list)
    supported: bool = True


Mode = Literal["generated", "extractive", "abstained", "small_talk", "overview"]


@dataclass
class Answer:
    """The full result of one question."""

    question: str
    answer: str
    abstained: bool
    mode: Mode
    citations: list[Citation]
    retrieved: list[Passage]
    sentences: list[AnswerSentence]
    standalone_question: str
    timings: dict[str, float]
    llm: str = ""
    notice: str = ""  # e.g. why the answer fell back to quotes

    def to_dict(self) -> dict[str, Any]:
        """The ``docchat ask --json`` object."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "mode": self.mode,
            "standalone_question": self.standalone_question,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [asdict(s) for s in self.sentences],
            "retrieved": [p.summary() for p in self.retrieved],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "llm": self.llm,
            "notice": self.notice,
        }


# -- stream events (what ``Engine.stream`` yields, in this order) ---------------------------------


@dataclass
class Retrieved:
    """Retrieval is done: these passages (numbered [1]..[k] in this order) go to the LLM."""

    passages: list[Passage]


@dataclass
class Token:
    """A piece of the generated answer text, as the LLM streams it."""

    text: str


@dataclass
class Final:
    """The checked answer. Its ``answer`` text may differ from the streamed tokens (markers fixed,
    or replaced by quotes when the generated text was not supported)."""

    answer: Answer


Event = Retrieved | Token | Final
