"""How fast llama.cpp reads an answer prompt: the model process's settings against llama_cpp.server's defaults.

The time to the first token is mostly the time to read the passages (the system prompt's KV cache is kept). This
reads the same prompt (the system prompt, then ``--tokens`` tokens of the default corpus) with the chat model
loaded three ways, in this process, alternating, ``--runs`` times each:

- llama_cpp.server's defaults (the baseline): ``logits_all=True`` computes and keeps every prompt token's logits;
- last logits only (``logits_all=False``, as docchat's model process runs);
- last logits only and flash attention (``DOCCHAT_LLM_FLASH_ATTENTION``, on by default).

Prints the median tokens/s of each and its ratio to the baseline; figures also go to bench/out/prefill.json.

    .venv/bin/python bench/prefill.py [--tokens 400] [--runs 5] [--model NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docchat  # noqa: E402,F401  (offline, no-telemetry environment first)
from bench.machine import machine_line  # noqa: E402
from docchat.core.settings import Settings  # noqa: E402

CONFIGS = {
    "llama_cpp.server defaults (every token's logits)": {"logits_all": True, "flash_attn": False},
    "last logits only": {"logits_all": False, "flash_attn": False},
    "last logits only + flash attention (docchat)": {"logits_all": False, "flash_attn": True},
}


def main() -> None:
    from llama_cpp import Llama

    from docchat.app.prompt import system_prompt
    from docchat.components.llm.backends import model_path, resolve_profile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400, help="prompt tokens read after the system prompt")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=None, help="a name from `docchat models list` (default: the default)")
    args = parser.parse_args()

    settings = Settings(llm_model=args.model) if args.model else Settings()
    path, profile = model_path(settings), resolve_profile(settings)
    print(f"machine: {machine_line()}")
    print(f"model: {path.name}, context {profile.context}, threads {settings.llm.threads}/{settings.llm.threads_batch}")
    threads = {"n_threads": settings.llm.threads, "n_threads_batch": settings.llm.threads_batch}
    models = {
        name: Llama(str(path), n_ctx=profile.context, verbose=False, **threads, **config)
        for name, config in CONFIGS.items()
    }
    first = next(iter(models.values()))
    prefix = first.tokenize(system_prompt(profile.trust_refusals).encode())
    text = (REPO / "corpus/full-stack-python.txt").read_text(encoding="utf-8")
    prompt = first.tokenize(text.encode(), add_bos=False)[: args.tokens]
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.runs):
        for name, llm in models.items():
            llm.reset()
            llm.eval(prefix)  # the cached system prompt: not timed
            started = time.perf_counter()
            llm.eval(prompt)
            speeds[name].append(len(prompt) / (time.perf_counter() - started))

    baseline = statistics.median(next(iter(speeds.values())))
    print(f"\n{'configuration':50} {'tokens/s':>9} {'vs baseline':>12}   ({len(prompt)} tokens, {args.runs} runs each)")
    rows = {}
    for name, values in speeds.items():
        median = statistics.median(values)
        rows[name] = {"tokens_per_s": median, "ratio": median / baseline, "runs": values}
        print(f"{name:50} {median:9.1f} {median / baseline:11.2f}x")
    out = REPO / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "prefill.json").write_text(
        json.dumps({"machine": machine_line(), "model": path.name, "tokens": len(prompt), "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
