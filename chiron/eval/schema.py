"""Config schema of conf/eval (registered by chiron/schemas.py; eval/default.yaml lists it first).

`eval.protocol` takes a name or a list of names, a union OmegaConf cannot type, so it stays Any and
chiron.eval.protocols.protocol_names checks it when the eval starts; `eval.generator` is Any too (see
there). Values live in the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from chiron.utils.choices import Choice


class EvalPrompt(Choice):  # chiron.eval.prompts.PROMPTS
    chiron = "chiron"
    reference = "reference"


@dataclass
class ReferenceProtocolConf:
    judge_temperature: float = MISSING


@dataclass
class ReferencePromptConf:
    max_patches: int = MISSING


@dataclass
class BootstrapConf:
    num_bootstraps: int = MISSING
    level: float = MISSING


@dataclass
class BertScoreConf:
    answer_benchmarks: List[str] = MISSING
    reasoning: bool = MISSING
    model: str = MISSING  # minilm, a hub name bert_score knows, or a local model folder
    num_layers: Optional[int] = MISSING
    batch_size: int = MISSING


@dataclass
class OwnPathConf:
    benchmarks: List[str] = MISSING
    max_steps: int = MISSING


@dataclass
class EvalConf:
    adapter: Optional[str] = MISSING
    # A model spec, or null. Not typed as Optional[ModelSpecConf]: OmegaConf 2.3 cannot merge an
    # override such as eval.generator='{name: g, ...}' into a typed node that is null (it raises
    # AttributeError, omry/omegaconf#1035), so ModelSpec.from_mapping checks it when the eval starts.
    generator: Any = None
    device: str = MISSING  # a torch device name: auto, cpu, cuda, cuda:1 ...
    dtype: str = MISSING
    batch_size: int = MISSING
    temperature: float = MISSING
    max_tokens: int = MISSING
    split: Optional[str] = MISSING
    limit: Optional[int] = MISSING
    items_in_flight: int = MISSING
    judge_open: bool = MISSING
    protocol: Any = MISSING
    reference: ReferenceProtocolConf = field(default_factory=ReferenceProtocolConf)
    prompt: EvalPrompt = MISSING
    reference_prompt: ReferencePromptConf = field(default_factory=ReferencePromptConf)
    bootstrap: BootstrapConf = field(default_factory=BootstrapConf)
    bertscore: BertScoreConf = field(default_factory=BertScoreConf)
    own_path: OwnPathConf = field(default_factory=OwnPathConf)
    wandb_examples: int = MISSING
    roots: Dict[str, Optional[str]] = field(default_factory=dict)  # benchmark -> local copy
    options: Dict[str, Any] = field(default_factory=dict)  # benchmark -> loader options
