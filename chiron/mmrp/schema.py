"""Config schema of conf/writer: the models that write MMRP Parts 1 and 3 (registered by
chiron/schemas.py). conf/mmrp itself has no schema: Levels and the part builders check it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from chiron.llm.spec_schema import ModelSpecConf


@dataclass
class WriterConf:
    temperature: float = MISSING
    tokenizer: str = MISSING  # Part 1's levels: a hub id or a local tokenizer folder
    part1: ModelSpecConf = MISSING
    part3: ModelSpecConf = MISSING


@dataclass
class WriterEndpointConf(WriterConf):
    """writer=openai_compatible: its model reads these through interpolations."""
    base_url: Optional[str] = MISSING
    api_key_env: Optional[str] = None
