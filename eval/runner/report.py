"""report.md and report.png from a run's summary and records (optionally against another run's summary)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docchat.core.errors import DocchatError
from docchat.eval.runner.metrics import LABELS, LATENCIES, SCORES

TABLE_METRICS = (*SCORES, "abstain_rate", *LATENCIES)
KEY_SETTINGS = (
    "collection",
    "top_k",
    "min_relevance",
    "candidates_k",
    "rrf_k",
    "reranker",
    "condense",
    "chunk_size",
    "chunk_overlap",
    "llm_temperature",
    "llm_max_tokens",
    "llm_threads",
    "query_threads",
)


def load_summary(path: Path | str) -> dict[str, Any]:
    """A summary.json written by a run (DocchatError if it cannot be read)."""
    path = Path(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DocchatError(f"Cannot read the summary {path}: {error}") from error
    if not isinstance(summary, dict) or "metrics" not in summary:
        raise DocchatError(f"{path} is not a docchat eval summary.json (no 'metrics').")
    return summary


def fmt(value: Any, metric: str = "") -> str:
    """A table cell: 3 decimals for scores, 2 for seconds, an en dash when not applicable."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if metric.startswith("latency") else f"{value:.3f}"
    return str(value)


def _cell(text: str, limit: int = 140) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _delta(a: Any, b: Any, metric: str) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return "–"
    return f"{a - b:+.2f}" if metric.startswith("latency") else f"{a - b:+.3f}"


def markdown(
    summary: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    other: dict[str, Any] | None = None,
    other_path: Path | str | None = None,
) -> str:
    """The report: what was run, the metrics (all items and per kind), the comparison, every item."""
    metrics, models, counts = summary["metrics"], summary["models"], summary["counts"]
    collection = summary["collection"]
    kinds = list(metrics["by_kind"])
    settings = summary["settings"]
    machine = summary["machine"]
    code = summary.get("code") or {}
    changed = f", changed since: {', '.join(code['changed'])}" if code.get("changed") else ""
    by_kind = ", ".join(f"{n} {kind}" for kind, n in counts["by_kind"].items() if n)
    lines = [
        f"# docchat eval: `{summary['set']}`",
        "",
        f"- date: {summary['date']} ({summary['seconds']} s)",
        f"- set: `{summary['set']}`: {counts['items']} items ({by_kind}); "
        f"{counts['malformed_lines']} malformed line(s) skipped; {counts['errors']} item error(s)",
        f"- corpus: `{summary['corpus'] or '(already ingested)'}` -> collection `{collection['name']}` "
        f"({collection['documents']} documents, {collection['chunks']} chunks)",
        f"- models: embedding `{models['embed_model']}` ({models['embed_backend']}), LLM `{models['llm']}`"
        + (f", judge `{models['judge']}`" if models.get("judge") else ""),
        f"- machine: {machine['nproc']} CPU(s), {machine['cpu']}; load average at start "
        f"{machine.get('load_average_at_start')}",
        f"- code: commit {str(code.get('commit'))[:12]}{changed}",
        "- settings: " + ", ".join(f"{key}={settings.get(key)}" for key in KEY_SETTINGS) + " (all in summary.json)",
    ]
    lines += [f"- **warning**: {warning}" for warning in summary.get("warnings", [])]
    lines += ["", "## Metrics", "", "| metric | all | " + " | ".join(kinds) + " |"]
    lines.append("|---|---:|" + "---:|" * len(kinds))
    for metric in TABLE_METRICS:
        if metric == "faithfulness" and metrics["all"].get(metric) is None:
            continue
        cells = [fmt(metrics["all"].get(metric), metric)]
        cells += [fmt(metrics["by_kind"][kind].get(metric), metric) for kind in kinds]
        lines.append(f"| {LABELS[metric]} | " + " | ".join(cells) + " |")
    lines.append("| items | " + " | ".join(str(m["items"]) for m in [metrics["all"], *metrics["by_kind"].values()]))
    lines[-1] += " |"
    if other is not None:
        lines += [
            "",
            f"## Compared with `{other_path}` ({other.get('date')}, set `{other.get('set')}`, "
            f"LLM `{other.get('models', {}).get('llm')}`)",
            "",
            "| metric | this run | other run | difference |",
            "|---|---:|---:|---:|",
        ]
        for metric in TABLE_METRICS:
            mine, theirs = metrics["all"].get(metric), other["metrics"]["all"].get(metric)
            if mine is None and theirs is None:
                continue
            lines.append(f"| {LABELS[metric]} | {fmt(mine, metric)} | {fmt(theirs, metric)} | "
                         f"{_delta(mine, theirs, metric)} |")  # fmt: skip
    lines += [
        "",
        "## Items",
        "",
        "rank: of the first gold-source passage; cites gold: a citation points into a gold source.",
        "",
        "| id | kind | rank | correct | refused | mode | cites gold | total s | answer |",
        "|---|---|---:|---|---|---|---|---:|---|",
    ]
    for r in records:
        s = r["scores"]
        answer = r.get("error") or r.get("answer", "")
        lines.append(
            f"| {r['id']} | {r['kind']} | {fmt(s['gold_rank'])} | {fmt(s['correct'])} | {fmt(r['abstained'])} | "
            f"{r['mode']} | {fmt(s['cited_gold'])} | {fmt(r['timings'].get('total'), 'latency')} | {_cell(answer)} |"
        )
    return "\n".join(lines) + "\n"


def chart(path: Path, summary: dict[str, Any], other: dict[str, Any] | None = None, other_label: str = "") -> None:
    """report.png: the 0..1 metrics and the latencies as bars (side by side with ``other`` if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = summary["metrics"]["all"]
    theirs = other["metrics"]["all"] if other else {}
    scores = [m for m in SCORES if mine.get(m) is not None or theirs.get(m) is not None]
    latencies = [m for m in LATENCIES if mine.get(m) is not None or theirs.get(m) is not None]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [max(len(scores), 1), max(len(latencies), 1)]}
    )
    series = [("this run", mine, "#3b6ea8")]
    if other is not None:
        series.append((other_label or "other run", theirs, "#c9853a"))
    width = 0.8 / len(series)
    for axis, names, unit in ((left, scores, ""), (right, latencies, " (s)")):
        for index, (label, metrics, colour) in enumerate(series):
            offsets = [i + (index - (len(series) - 1) / 2) * width for i in range(len(names))]
            values = [metrics.get(m) or 0.0 for m in names]
            bars = axis.bar(offsets, values, width, label=label, color=colour)
            for bar, metric in zip(bars, names, strict=True):
                shown = metrics.get(metric)
                text = "n/a" if shown is None else (f"{shown:.1f}" if unit else f"{shown:.2f}")
                axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                              va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")  # fmt: skip
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels([LABELS[m].replace(" (s)", "") for m in names], rotation=35, ha="right", fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    left.set_ylim(0, 1.12)
    left.set_title("scores (all items)")
    right.set_title("latency (s)")
    left.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"docchat eval: {summary['set']} ({summary['date']}, LLM {summary['models']['llm']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    out_dir: Path,
    summary: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    other: dict[str, Any] | None = None,
    other_path: Path | str | None = None,
) -> None:
    """report.md and report.png into ``out_dir``."""
    text = markdown(summary, records, other=other, other_path=other_path)
    (out_dir / "report.md").write_text(text, encoding="utf-8")
    label = f"{Path(other_path).parent.name or other_path} ({other.get('date')})" if other and other_path else ""
    chart(out_dir / "report.png", summary, other, label)


# -- calibration -------------------------------------------------------------------------------------------

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(0, 31))  # 0.00 .. 1.50 (relevance is 0..2)


def calibration_markdown(name: str, rows: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]) -> str:
    """The sweep table, plus the best-relevance ranges of answerable and unanswerable items."""
    lines = [
        f"### {name}",
        "",
        _relevance_ranges(records),
        "",
        "| min_relevance | refused | refused unanswerable | refused answerable | answerable kept | "
        "refusal precision | refusal recall | F1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['threshold']:.2f} | {row['refused']} | {row['refused_unanswerable']} | "
            f"{row['refused_answerable']} | {fmt(row['answerable_kept'])} | {fmt(row['refusal_precision'])} | "
            f"{fmt(row['refusal_recall'])} | {fmt(row['f1'])} |"
        )
    return "\n".join(lines) + "\n"


def _relevance_ranges(records: Sequence[dict[str, Any]]) -> str:
    parts = []
    for label, want in (("answerable (all other kinds)", True), ("unanswerable", False)):
        best = sorted(
            r["best_relevance"] for r in records
            if (r["kind"] != "unanswerable") == want and r.get("best_relevance") is not None
        )  # fmt: skip
        if best:
            parts.append(f"{label}: best relevance {best[0]:.3f} .. {best[-1]:.3f} (n={len(best)})")
    return "; ".join(parts) + "."


def write_calibration(out_dir: Path, summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> None:
    """calibration.json and calibration.md (the sweep) and summary.json (retrieval metrics) into ``out_dir``."""
    from docchat.eval.runner.metrics import refusal_sweep

    rows = refusal_sweep(records, THRESHOLDS)
    summary["calibration"] = rows
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "calibration.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    metrics = summary["metrics"]["all"]
    head = [
        f"# Abstention calibration: `{summary['set']}`",
        "",
        f"Retrieval only (no LLM), collection `{summary['collection']['name']}`, top_k "
        f"{summary['settings']['top_k']}, {summary['date']}. Retrieval: hit@1 {fmt(metrics['hit_at_1'])}, "
        f"hit@5 {fmt(metrics['hit_at_5'])}, MRR {fmt(metrics['mrr'])}.",
        "",
        "The engine refuses (before any LLM call) when the best retrieved passage's relevance (cosine similarity "
        "+ question-term coverage, 0..2) is below `min_relevance`. "
        'Refusals the LLM adds itself ("The documents do not cover this.") are not counted here.',
        "",
    ]
    text = "\n".join(head) + calibration_markdown(summary["set"], rows, records)
    (out_dir / "calibration.md").write_text(text, encoding="utf-8")
