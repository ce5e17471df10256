"""The metrics: per-item scores (``score_item``) and their aggregates (``aggregate``), as plain functions.

Definitions (also in eval/README.md):

- gold rank: 1-based rank of the first retrieved passage whose source is a gold source (None: none is).
- hit@k: gold rank <= k; MRR: mean of 1 / gold rank (0 when no gold passage was retrieved).
  Retrieval metrics cover the items with gold sources (every kind but ``unanswerable``).
- answer correctness: an answerable item is correct when it was not refused and its answer meets every
  ``must_include_any`` group (one alternative per group, case-insensitive substring); an unanswerable item
  is correct when it was refused. Covers all items.
- citation precision: citations into a gold source / all citations, pooled over the answerable items.
- citation recall: share of answerable items with at least one citation into a gold source.
- refusal precision / recall: refusing (``abstained``) is the positive class, unanswerable items the true
  positives. Precision = refused unanswerable / refused; recall = refused unanswerable / unanswerable.
- latency: median and p95 (linear interpolation) of the graded turn's ``total`` and ``first_token`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from docchat.eval.runner.dataset import KINDS, Item

# The metrics in the order reports list them; ``True`` marks a 0..1 score (higher is better).
SCORES = (
    "hit_at_1",
    "hit_at_5",
    "mrr",
    "answer_correctness",
    "citation_precision",
    "citation_recall",
    "refusal_precision",
    "refusal_recall",
    "faithfulness",
)
LATENCIES = ("latency_total_median", "latency_total_p95", "latency_first_token_median", "latency_first_token_p95")
LABELS = {
    "hit_at_1": "retrieval hit@1",
    "hit_at_5": "retrieval hit@5",
    "mrr": "retrieval MRR",
    "answer_correctness": "answer correctness",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "refusal_precision": "refusal precision",
    "refusal_recall": "refusal recall",
    "faithfulness": "faithfulness (judge)",
    "abstain_rate": "refused (share)",
    "latency_total_median": "latency total, median (s)",
    "latency_total_p95": "latency total, p95 (s)",
    "latency_first_token_median": "first token, median (s)",
    "latency_first_token_p95": "first token, p95 (s)",
}


def gold_rank(retrieved_sources: Sequence[str], gold_sources: Iterable[str]) -> int | None:
    """1-based rank of the first retrieved source that is a gold source; None if there is none."""
    gold = set(gold_sources)
    for rank, source in enumerate(retrieved_sources, start=1):
        if source in gold:
            return rank
    return None


def keywords_met(answer: str, groups: Sequence[Sequence[str]]) -> bool:
    """True when every group has at least one alternative in ``answer`` (case-insensitive substring)."""
    text = answer.casefold()
    return all(any(keyword.casefold() in text for keyword in group) for group in groups)


def score_item(
    item: Item,
    *,
    answer: str,
    abstained: bool,
    citation_sources: Sequence[str],
    retrieved_sources: Sequence[str],
) -> dict[str, Any]:
    """The per-item scores (None where a metric does not apply to the item's kind)."""
    gold = set(item.gold_sources)
    if not item.answerable:
        return {
            "gold_rank": None,
            "hit_at_1": None,
            "hit_at_5": None,
            "reciprocal_rank": None,
            "correct": abstained,
            "citations": len(citation_sources),
            "gold_citations": None,
            "cited_gold": None,
        }
    rank = gold_rank(retrieved_sources, gold)
    gold_citations = sum(source in gold for source in citation_sources)
    return {
        "gold_rank": rank,
        "hit_at_1": rank is not None and rank <= 1,
        "hit_at_5": rank is not None and rank <= 5,
        "reciprocal_rank": 1.0 / rank if rank else 0.0,
        "correct": not abstained and keywords_met(answer, item.must_include_any),
        "citations": len(citation_sources),
        "gold_citations": gold_citations,
        "cited_gold": gold_citations > 0,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _mean(values: Iterable[float | bool | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def aggregate(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The metrics over result records (``kind``, ``abstained``, ``scores``, ``timings``; see run.py).

    A metric with nothing to measure (e.g. refusal precision when nothing was refused) is None.
    """
    answerable = [r for r in records if r["kind"] != "unanswerable"]
    refused = [r for r in records if r["abstained"]]
    unanswerable = [r for r in records if r["kind"] == "unanswerable"]
    refused_unanswerable = sum(r["kind"] == "unanswerable" for r in refused)
    totals = [r["timings"]["total"] for r in records if "total" in (r.get("timings") or {})]
    firsts = [r["timings"]["first_token"] for r in records if "first_token" in (r.get("timings") or {})]
    scores = [r["scores"] for r in answerable]
    faithful = [r.get("judge", {}).get("passing") for r in records if r.get("judge")]
    return {
        "items": len(records),
        "errors": sum(bool(r.get("error")) for r in records),
        "hit_at_1": _mean(s["hit_at_1"] for s in scores),
        "hit_at_5": _mean(s["hit_at_5"] for s in scores),
        "mrr": _mean(s["reciprocal_rank"] for s in scores),
        "answer_correctness": _mean(r["scores"]["correct"] for r in records),
        "citation_precision": _ratio(sum(s["gold_citations"] for s in scores), sum(s["citations"] for s in scores)),
        "citation_recall": _mean(s["cited_gold"] for s in scores),
        "refusal_precision": _ratio(refused_unanswerable, len(refused)),
        "refusal_recall": _ratio(refused_unanswerable, len(unanswerable)),
        "faithfulness": _mean(faithful),
        "abstain_rate": _ratio(len(refused), len(records)),
        "citations": sum(r["scores"]["citations"] for r in records),
        "latency_total_median": percentile(totals, 50),
        "latency_total_p95": percentile(totals, 95),
        "latency_first_token_median": percentile(firsts, 50),
        "latency_first_token_p95": percentile(firsts, 95),
    }


def aggregate_by_kind(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{"all": metrics, "by_kind": {kind: metrics}}`` (only the kinds present)."""
    by_kind = {kind: aggregate([r for r in records if r["kind"] == kind]) for kind in KINDS}
    return {"all": aggregate(records), "by_kind": {k: v for k, v in by_kind.items() if v["items"]}}


def refusal_sweep(records: Sequence[dict[str, Any]], thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """Retrieval-only abstention at each threshold: refuse when the best relevance is below it.

    Each record needs ``kind`` and ``best_relevance``: the engine's gate compares the best retrieved passage's
    relevance (``Passage.relevance``) with ``min_relevance``. Refusals the LLM itself adds are not counted.
    """
    unanswerable = sum(r["kind"] == "unanswerable" for r in records)
    answerable = len(records) - unanswerable
    rows = []
    for threshold in thresholds:
        refused = [r for r in records if (r.get("best_relevance") or 0.0) < threshold]
        true = sum(r["kind"] == "unanswerable" for r in refused)
        precision, recall = _ratio(true, len(refused)), _ratio(true, unanswerable)
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
        rows.append(
            {
                "threshold": round(threshold, 4),
                "refused": len(refused),
                "refused_unanswerable": true,
                "refused_answerable": len(refused) - true,
                "answerable_kept": _ratio(answerable - (len(refused) - true), answerable),
                "refusal_precision": precision,
                "refusal_recall": recall,
                "f1": f1,
            }
        )
    return rows
