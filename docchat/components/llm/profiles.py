"""Model profiles: everything about answering that differs by model, in one record per model.

A known model (``docchat models list``) names its profile; an Ollama model, an OpenAI-compatible
server's model and any other GGUF get ``default``. ``DOCCHAT_LLM_PROFILE`` picks another profile by
name, and ``DOCCHAT_LLM_PROFILE_OVERRIDES`` (JSON) or the matching ``llm_*`` settings override single
fields. Nothing in docchat looks at a model's name to decide behaviour: it reads the profile.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelProfile(BaseModel):
    """How docchat drives one model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Profile name (a known model's name, or 'default').")
    context: int = Field(4096, ge=512, description="Context window in tokens (llama.cpp's n_ctx).")
    passage_budget: int = Field(
        0,
        ge=0,
        description="Word-pieces of passage text the model reads; longer passages are cut to the sentences most "
        "similar to the question (0 = no cut). Small models answer faster and better from less text.",
    )
    max_tokens: int = Field(320, ge=16, description="Most tokens generated for one answer.")
    stop: tuple[str, ...] = Field(
        (), description="Extra stop sequences (the chat template's own end token always stops)."
    )
    repeat_penalty: float = Field(
        1.1, ge=1.0, le=2.0, description="llama.cpp's penalty on tokens just generated (caps repetition loops)."
    )
    trust_rewrites: bool = Field(
        True, description="Let the model rewrite a follow-up into a standalone question (else: a rule does)."
    )
    trust_refusals: bool = Field(
        True,
        description="Ask the model to reply with the refusal marker when the passages lack the answer, and abstain "
        "when it does (else: it is not asked, and its answer is checked like any other).",
    )
    invented_name_refuses: bool = Field(
        True,
        description="Asked for a name, refuse when the model's unsupported answer names one that neither the passages "
        "nor the question hold (it made the name up: the passages lack it); else quote the passages instead. Off for "
        "a model that makes names up even when the passages state them.",
    )
    self_check: bool = Field(
        False,
        description="After answering, ask the model (one more turn, re-using its KV cache) whether the passages "
        "state its answer; a NO is taken as a refusal.",
    )


PROFILES: dict[str, ModelProfile] = {
    profile.name: profile
    for profile in (
        ModelProfile(name="default"),
        # 135M: reads little well, rewrites badly, refuses wrongly (seed eval), loops without a penalty, and names a
        # made-up agency ("the U.S. Department of Commerce") for "Which government agency built Collab?", which the
        # passage answers (CFPB): its invented names say nothing about the passages.
        ModelProfile(
            name="smollm2-135m",
            context=2048,
            passage_budget=240,
            max_tokens=200,
            repeat_penalty=1.15,
            trust_rewrites=False,
            trust_refusals=False,
            invented_name_refuses=False,
        ),
        # 0.5B: its NO_ANSWER was right for 5 of 15 seed-set refusals (2026-11-26): quote instead of abstaining. Its
        # made-up names (both sets, eleventh session) came only where the passages lacked the answer.
        ModelProfile(name="qwen2.5-coder-0.5b", passage_budget=300, max_tokens=160, trust_refusals=False),
        ModelProfile(name="qwen2.5-coder-1.5b", context=4096, passage_budget=600, max_tokens=240),
    )
}


def get_profile(name: str, overrides: dict[str, object] | None = None) -> ModelProfile:
    """The profile called ``name`` with ``overrides`` applied (validated: unknown fields are refused)."""
    from docchat.core.errors import DocchatError

    if name not in PROFILES:
        raise DocchatError(f"Unknown model profile {name!r}; use one of: {', '.join(sorted(PROFILES))}.")
    base = PROFILES[name]
    if not overrides:
        return base
    return ModelProfile.model_validate({**base.model_dump(), **overrides, "name": name})
