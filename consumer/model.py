"""The ONNX model the service serves: verify, load, tokenize, infer. No torch on this path.

:meth:`OnnxClassifier.load` does all the work that can fail (manifest and sha256 check,
tokenizer, ONNX Runtime session, one warm-up call) so a bad model directory stops the service
at start-up, before it joins the consumer group — never on the first message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsclf.drift import Reference
from newsclf.feeds import build_feeds
from newsclf.lexical import LEXICAL_JSON, Lexical, LexicalError
from newsclf.manifest import Manifest
from newsclf.textprep import Preprocessing, encode_batch, encode_batch_marked, prepare_tokenizer

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"


class ModelError(RuntimeError):
    """The model directory cannot be served."""


@dataclass(frozen=True)
class ModelInfo:
    version: str
    sha256: str  # of model.onnx
    manifest_sha256: str  # of manifest.json, which pins every file's sha256
    variant: str
    labels: tuple[str, ...]
    provider: str
    max_length: int
    # From the manifest (an older model directory lacks them; then: no calibration, no
    # review threshold, any language, no drift reference).
    temperature: float = 1.0
    review_threshold: float | None = None  # calibrated confidence, chosen at training
    supported_languages: tuple[str, ...] | None = None  # from the training data
    reference: Reference | None = None  # predictions on the test split (drift)


def choose_providers(requested: str, available: Sequence[str]) -> list[str]:
    """ONNX Runtime execution providers for ``auto`` | ``cuda`` | ``cpu``."""
    if requested == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if requested == "cuda":
        raise ModelError(
            "execution provider 'cuda' requested but this onnxruntime has no CUDA support "
            f"(available: {', '.join(available)}); install news-classifier[gpu]"
        )
    return ["CPUExecutionProvider"]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits, calibrated by ``temperature`` (temperature scaling)."""
    z = logits.astype(np.float32, copy=False)
    if temperature != 1.0:
        z = z / np.float32(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _trust_fields(manifest: Manifest) -> dict[str, Any]:
    """Calibration, review threshold, supported languages and drift reference from the
    manifest's typed views (:class:`ManifestError` when present but malformed)."""
    out: dict[str, Any] = {}
    calibration = manifest.calibration
    if calibration is not None:
        out["temperature"] = calibration.temperature
        out["review_threshold"] = calibration.threshold
    languages, reference = manifest.supported_languages, manifest.reference
    if languages is not None:
        out["supported_languages"] = languages
    if reference is not None:
        out["reference"] = reference
    return out


class OnnxClassifier:
    """A verified model directory, ready to classify token-id batches."""

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        prep: Preprocessing,
        info: ModelInfo,
        cuda: bool,
        lexical: Lexical | None = None,
    ) -> None:
        self._session = session
        self.lexical = lexical  # a hybrid's TF-IDF branch, fused in predict
        self._tokenizer = tokenizer
        self.prep = prep
        self.info = info
        self._cuda = cuda
        self._inputs = {i.name for i in session.get_inputs()}
        self._output = (
            "logits"
            if "logits" in {o.name for o in session.get_outputs()}
            else (session.get_outputs()[0].name)
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    @classmethod
    def load(
        cls,
        model_dir: Path,
        provider: str = "auto",
        intra_op_threads: int = 0,
        expected_manifest_sha256: str | None = None,
    ) -> OnnxClassifier:
        """Verify and load ``model_dir``. ``expected_manifest_sha256`` pins the model: the
        manifest itself must have that digest (the deployment sets it), so a model file
        edited together with its hash in the manifest is refused too."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from newsclf.manifest import MANIFEST_FILE, ManifestError, sha256_file, verify_model_dir

        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelError(f"model directory {model_dir} does not exist")
        started = time.perf_counter()
        manifest_sha = (
            sha256_file(model_dir / MANIFEST_FILE) if (model_dir / MANIFEST_FILE).is_file() else ""
        )
        if expected_manifest_sha256 and manifest_sha != expected_manifest_sha256.lower():
            raise ModelError(
                f"model directory {model_dir} is not the pinned model: manifest.json has sha256 "
                f"{manifest_sha[:16] or '(missing)'}..., NEWSCLF_MODEL_SHA256 expects "
                f"{expected_manifest_sha256[:16].lower()}..."
            )
        try:
            manifest = verify_model_dir(model_dir)  # the one read of manifest.json
            labels = tuple(manifest.labels)
            sha = manifest.model_sha256
            trust = _trust_fields(manifest)
        except (ManifestError, OSError, KeyError) as exc:
            raise ModelError(f"model directory {model_dir} failed verification: {exc}") from exc
        try:
            prep = Preprocessing.load(model_dir)
            tokenizer = prepare_tokenizer(Tokenizer.from_file(str(model_dir / "tokenizer.json")))
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise ModelError(f"cannot load the tokenizer of {model_dir}: {exc}") from exc
        lexical = None
        if LEXICAL_JSON in manifest.files:  # a hybrid (the manifest pinned its files)
            try:
                lexical = Lexical.load(model_dir)
            except LexicalError as exc:
                raise ModelError(f"cannot load the lexical branch of {model_dir}: {exc}") from exc
            if lexical.labels != labels:
                raise ModelError(
                    f"the lexical branch of {model_dir} has labels {list(lexical.labels)}, "
                    f"the manifest {list(labels)}"
                )

        providers = choose_providers(provider, ort.get_available_providers())
        if providers[0] == "CUDAExecutionProvider" and hasattr(ort, "preload_dlls"):
            # onnxruntime-gpu >= 1.21: load CUDA/cuDNN from the nvidia-* wheels when the system
            # has none of its own (pip install onnxruntime-gpu[cuda,cudnn]).
            ort.preload_dlls()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        try:
            session = ort.InferenceSession(
                str(model_dir / MODEL_FILE), options, providers=providers
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"ONNX Runtime cannot load {model_dir / MODEL_FILE}: {exc}") from exc
        active = session.get_providers()[0]
        if len(json.dumps(list(labels))) > 4096:
            raise ModelError("the manifest's labels take over 4096 bytes: outputs would not fit")
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(labels):
            raise ModelError(
                f"model has {n_out} outputs but the manifest lists {len(labels)} labels"
            )
        info = ModelInfo(
            version=manifest.model_version,
            sha256=sha,
            manifest_sha256=manifest_sha,
            variant=manifest.variant,
            labels=labels,
            provider=active,
            max_length=prep.max_length,
            **trust,
        )
        model = cls(
            session, tokenizer, prep, info, cuda=active == "CUDAExecutionProvider", lexical=lexical
        )
        model.predict_texts(["warm-up"])  # fail here, not on the first message
        log.info(
            "model loaded",
            extra={
                "model_version": info.version,
                "variant": info.variant,
                "provider": info.provider,
                "labels": list(labels),
                "hybrid": lexical is not None,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return model

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, head+tail truncated exactly as in training. One tokenizer call."""
        return encode_batch(self._tokenizer, texts, self.prep)

    def tokenize_marked(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """:meth:`tokenize`, and per text whether it was longer than the model's window."""
        return encode_batch_marked(self._tokenizer, texts, self.prep)

    def _feeds(self, ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
        return build_feeds(ids, self.prep.pad_token_id, self._inputs)

    def predict(
        self, ids: Sequence[Sequence[int]], texts: Sequence[str] | None = None
    ) -> np.ndarray:
        """Probabilities, shape (rows, labels), float32, rows in the order given. ``texts``:
        what ``ids`` were tokenized from; a hybrid needs them (its TF-IDF branch reads every
        word) and fuses the two before calibration."""
        if not ids:
            return np.zeros((0, len(self.info.labels)), dtype=np.float32)
        scores = self.logits(ids)
        if self.lexical is not None:
            if texts is None or len(texts) != len(ids):
                raise ModelError("a hybrid model needs the texts of the rows it classifies")
            scores = self.lexical.fuse(scores, texts)
        probs = softmax(scores, self.info.temperature)
        if probs.shape != (len(ids), len(self.info.labels)):
            raise ModelError(
                f"model returned shape {probs.shape} for {len(ids)} rows and "
                f"{len(self.info.labels)} labels"
            )
        return probs

    def predict_texts(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`predict` on ``texts`` (tokenized here), one call."""
        return self.predict(self.tokenize(texts), texts)

    def logits(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """The graph's raw logits (before calibration), float32, rows in the order given."""
        feeds = self._feeds(ids)
        if self._cuda:
            binding = self._session.io_binding()
            for name, array in feeds.items():
                binding.bind_cpu_input(name, array)
            binding.bind_output(self._output, "cuda")
            self._session.run_with_iobinding(binding)
            logits = binding.copy_outputs_to_cpu()[0]
        else:
            logits = self._session.run([self._output], feeds)[0]
        return np.asarray(logits, dtype=np.float32)
