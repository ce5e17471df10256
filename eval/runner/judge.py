"""Optional LLM-as-judge faithfulness (``--judge``): llama-index's FaithfulnessEvaluator asks the configured
Ollama model whether the answer is supported by the passages the engine retrieved for it.

The embedded llama.cpp backend is refused: SmolLM2-135M (the default) cannot grade faithfulness in any
meaningful way, and a judge that is the model being judged says little anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docchat.core.errors import DocchatError
from docchat.core.settings import Settings


class JudgeUnavailable(DocchatError):
    """The judge cannot run with these settings; the message says what to do."""


class FaithfulnessJudge:
    """Wraps a llama-index ``FaithfulnessEvaluator``; ``judge`` returns a JSON-ready verdict."""

    def __init__(self, llm: Any, name: str) -> None:
        from llama_index.core.evaluation import FaithfulnessEvaluator

        self.name = name
        self._evaluator = FaithfulnessEvaluator(llm=llm)

    def judge(self, question: str, answer: str, contexts: Sequence[str]) -> dict[str, Any]:
        """``{"passing": bool, "score": float, "feedback": str}``, or ``{"error": ...}`` if the judge failed."""
        try:
            result = self._evaluator.evaluate(query=question, response=answer, contexts=list(contexts))
        except Exception as error:  # the judge is optional: one failed verdict must not stop the run
            return {"passing": None, "error": f"{type(error).__name__}: {error}"}
        return {"passing": bool(result.passing), "score": result.score, "feedback": (result.feedback or "")[:500]}


def make_judge(settings: Settings) -> FaithfulnessJudge:
    """The judge for these settings: the configured Ollama model through llama-index's ``Ollama`` LLM."""
    if settings.llm.backend != "ollama":
        raise JudgeUnavailable(
            "--judge needs an Ollama model as the judge: the embedded llama.cpp models "
            "are too small to grade faithfulness meaningfully; set DOCCHAT_LLM_BACKEND=ollama and "
            "DOCCHAT_OLLAMA_MODEL, or run without --judge."
        )
    from llama_index.llms.ollama import Ollama

    from docchat.components.llm.backends import resolve_profile

    llm = Ollama(
        model=settings.llm.ollama_model,
        base_url=settings.llm.ollama_url,
        request_timeout=settings.llm.timeout,
        temperature=0.0,
        context_window=resolve_profile(settings).context,
        additional_kwargs={"num_predict": 16},  # the verdict is YES or NO
    )
    return FaithfulnessJudge(llm, f"ollama:{settings.llm.ollama_model}")
