"""The eval runner: load a question set, run it through the answer engine, score it, write the reports.

``docchat eval`` (docchat/cli/main.py) calls :func:`evaluate`; see eval/README.md for the metrics.
"""

from docchat.eval.runner.dataset import KINDS, Item, LineError, QuestionSet, load_set
from docchat.eval.runner.metrics import aggregate, aggregate_by_kind, gold_rank, keywords_met, refusal_sweep, score_item
from docchat.eval.runner.run import EvalRun, evaluate, run_item

__all__ = [
    "KINDS",
    "EvalRun",
    "Item",
    "LineError",
    "QuestionSet",
    "aggregate",
    "aggregate_by_kind",
    "evaluate",
    "gold_rank",
    "keywords_met",
    "load_set",
    "refusal_sweep",
    "run_item",
    "score_item",
]
