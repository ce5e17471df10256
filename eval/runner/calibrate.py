"""Calibrate ``min_relevance`` from runs' retrieval results (no LLM needed).

Inputs are files written by ``docchat eval`` (``results.jsonl`` of a full run or ``retrieval.jsonl`` of a
``--calibrate`` run), or their folders. For each threshold the engine would refuse the items whose best
retrieved passage's relevance (cosine similarity + question-term coverage, 0..2) is below it; the sweep
reports refusal precision / recall per input, and the threshold to use (see ``recommend``)::

    docchat eval --set eval/sets/seed.jsonl --corpus corpus --collection eval-seed --calibrate
    python -m docchat.eval.runner.calibrate eval/out/seed-calibration-*/ eval/out/fullstackpython-calibration-*/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docchat.eval.runner.metrics import refusal_sweep

TARGET_PRECISION = 0.8
TARGET_RECALL = 0.8


def load_records(path: Path | str) -> list[dict[str, Any]]:
    """The records of a run: a .jsonl file, or a run folder holding retrieval.jsonl or results.jsonl."""
    path = Path(path)
    if path.is_dir():
        for name in ("retrieval.jsonl", "results.jsonl"):
            if (path / name).exists():
                path = path / name
                break
        else:
            raise FileNotFoundError(f"{path} holds neither retrieval.jsonl nor results.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def thresholds(start: float, stop: float, step: float) -> list[float]:
    """``start``, ``start + step``, ... up to ``stop`` inclusive (rounded to 4 decimals)."""
    count = round((stop - start) / step) + 1
    return [round(start + i * step, 4) for i in range(count)]


def recommend(
    sweeps: dict[str, list[dict[str, Any]]],
    precision: float = TARGET_PRECISION,
    recall: float = TARGET_RECALL,
) -> dict[str, Any]:
    """The threshold to use, from sweeps over the same grid (one per input):

    1. if some thresholds meet both targets on every input: the middle of the longest run of them;
    2. else, among thresholds keeping refusal precision >= ``precision`` on every input (nothing refused
       counts as precise), those with the highest mean recall, and the middle of their longest run;
    3. else the threshold with the best mean F1.
    """
    grid = [row["threshold"] for row in next(iter(sweeps.values()))]
    rows = list(sweeps.values())

    def precise(i: int) -> bool:
        return all((r[i]["refusal_precision"] if r[i]["refusal_precision"] is not None else 1.0) >= precision
                   for r in rows)  # fmt: skip

    def mean(i: int, key: str) -> float:
        return sum(r[i][key] or 0.0 for r in rows) / len(rows)

    feasible = [
        i for i in range(len(grid)) if precise(i) and all((r[i]["refusal_recall"] or 0) >= recall for r in rows)
    ]
    if feasible:
        middle, run = _middle(feasible)
        return {"threshold": grid[middle], "rule": "meets both targets on every input (middle of the range)",
                "meets_targets": True, "range": [grid[run[0]], grid[run[-1]]]}  # fmt: skip
    kept = [i for i in range(len(grid)) if precise(i)]
    if kept:
        best = max(mean(i, "refusal_recall") for i in kept)
        middle, run = _middle([i for i in kept if mean(i, "refusal_recall") == best])
        return {"threshold": grid[middle], "meets_targets": False, "range": [grid[run[0]], grid[run[-1]]],
                "rule": f"highest mean refusal recall ({best:.3f}) keeping refusal precision >= {precision} "
                        "on every input"}  # fmt: skip
    best_f1 = max(range(len(grid)), key=lambda i: mean(i, "f1"))
    return {"threshold": grid[best_f1], "meets_targets": False, "range": None, "rule": "best mean F1"}


def _middle(indexes: list[int]) -> tuple[int, list[int]]:
    """The middle index of the longest run of consecutive ``indexes``, and that run."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    longest = max(runs, key=len)
    return longest[(len(longest) - 1) // 2], longest


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m docchat.eval.runner.calibrate RUN...``: print the sweep per input and the recommended threshold."""
    parser = argparse.ArgumentParser(
        prog="python -m docchat.eval.runner.calibrate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("runs", nargs="+", type=Path, help="results.jsonl / retrieval.jsonl files or run folders")
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--stop", type=float, default=1.5)
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--precision", type=float, default=TARGET_PRECISION, help="target refusal precision")
    parser.add_argument("--recall", type=float, default=TARGET_RECALL, help="target refusal recall")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    from docchat.eval.runner.report import calibration_markdown

    grid = thresholds(args.start, args.stop, args.step)
    sweeps, texts = {}, []
    for run in args.runs:
        records = load_records(run)
        sweeps[str(run)] = rows = refusal_sweep(records, grid)
        texts.append(calibration_markdown(str(run), rows, records))
    choice = recommend(sweeps, args.precision, args.recall)
    if args.json:
        print(json.dumps({"sweeps": sweeps, "recommendation": choice}, indent=2))
        return 0
    print("\n".join(texts))
    span = f" (range {choice['range'][0]:.2f} .. {choice['range'][1]:.2f})" if choice["range"] else ""
    verdict = "meets" if choice["meets_targets"] else "does NOT meet"
    print(f"Recommended min_relevance: {choice['threshold']:.2f}{span}, by rule: {choice['rule']}; it {verdict} "
          f"refusal precision >= {args.precision} and recall >= {args.recall} on every input.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
