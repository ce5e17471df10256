"""Calibrate ``min_relevance`` from runs' retrieval results (no LLM needed).

Inputs are files written by ``docchat eval`` (``results.jsonl`` of a full run or ``retrieval.jsonl`` of a
``--calibrate`` run), or their folders. For each threshold the engine would refuse the items whose best
retrieved passage's cosine similarity is below it; the sweep reports refusal precision / recall per input,
and the thresholds meeting the targets on every input::

    docchat eval --set eval/sets/seed.jsonl --corpus corpus --collection eval-seed --calibrate
    python -m eval.runner.calibrate eval/out/seed-calibration-*/ eval/out/fullstackpython-calibration-*/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.runner.metrics import refusal_sweep

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
    """The threshold to use: the middle of the range meeting both targets on every input (the most
    margin on both sides); if no threshold does, the one with the best mean F1."""
    grid = [row["threshold"] for row in next(iter(sweeps.values()))]

    def meets(index: int) -> bool:
        return all(
            (rows[index]["refusal_precision"] or 0) >= precision and (rows[index]["refusal_recall"] or 0) >= recall
            for rows in sweeps.values()
        )

    feasible = [i for i in range(len(grid)) if meets(i)]
    if feasible:
        # The longest run of consecutive feasible thresholds, and its middle.
        runs: list[list[int]] = []
        for i in feasible:
            if runs and i == runs[-1][-1] + 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        best_run = max(runs, key=len)
        middle = best_run[(len(best_run) - 1) // 2]
        return {
            "threshold": grid[middle],
            "meets_targets": True,
            "feasible_range": [grid[best_run[0]], grid[best_run[-1]]],
        }
    mean_f1 = [sum(rows[i]["f1"] for rows in sweeps.values()) / len(sweeps) for i in range(len(grid))]
    best = max(range(len(grid)), key=lambda i: mean_f1[i])
    return {"threshold": grid[best], "meets_targets": False, "feasible_range": None, "mean_f1": mean_f1[best]}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eval.runner.calibrate RUN...``: print the sweep per input and the recommended threshold."""
    parser = argparse.ArgumentParser(prog="python -m eval.runner.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="results.jsonl / retrieval.jsonl files or run folders")
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--stop", type=float, default=0.7)
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--precision", type=float, default=TARGET_PRECISION, help="target refusal precision")
    parser.add_argument("--recall", type=float, default=TARGET_RECALL, help="target refusal recall")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    from eval.runner.report import calibration_markdown

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
    if choice["meets_targets"]:
        low, high = choice["feasible_range"]
        print(f"Refusal precision >= {args.precision} and recall >= {args.recall} on every input for "
              f"min_relevance {low:.2f} .. {high:.2f}; recommended: {choice['threshold']:.2f}")  # fmt: skip
    else:
        print(f"No threshold meets refusal precision >= {args.precision} and recall >= {args.recall} on every "
              f"input; best mean F1 at min_relevance {choice['threshold']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
