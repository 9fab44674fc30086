"""Config schemas of the search and of its roles: conf/search, conf/mentors, conf/interns, conf/judge
(registered by chiron/schemas.py; each option file lists its schema first in its defaults).

Fields every option file sets have no default here (MISSING), so the YAML stays the one place of
each value; the schema gives the types and the allowed choices. Ranges (max_depth >= 1, ...) are
checked by chiron.search.mics.SearchSettings and chiron.llm.spec.ModelSpec when the job starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING

from chiron.llm.spec_schema import ModelSpecConf
from chiron.utils.choices import Choice


class SearchMethod(Choice):
    mics = "mics"
    vanilla = "vanilla"


class Competitiveness(Choice):
    product = "product"  # paper eq. 5
    sum = "sum"  # the reference code's 1 + sum


class InternPrompt(Choice):  # chiron.search.prompts.INTERN_PROMPTS
    final_answer = "final_answer"
    brief_reasoning = "brief_reasoning"


@dataclass
class SearchConf:
    name: SearchMethod = MISSING
    max_depth: int = MISSING
    max_retries: int = MISSING
    first_depth_steps: int = MISSING
    competitiveness: Competitiveness = MISSING
    max_cases_in_flight: int = MISSING
    economy: bool = MISSING
    economy_wave: int = MISSING
    # No new case starts once the run folder has spent this many USD (null: no limit); set by
    # conf/search/*.yaml or on the command line.
    budget_usd: Optional[float] = None
    # The vanilla method's options (search=vanilla, vanilla_scored); one schema for both methods
    # because vanilla's option file builds on mics's.
    vanilla_mentor: Optional[str] = None
    score_vanilla_paths: bool = False


@dataclass
class MentorsConf:
    temperature: float = MISSING
    subset: Optional[List[str]] = MISSING
    models: List[ModelSpecConf] = field(default_factory=list)


@dataclass
class MentorsEndpointConf(MentorsConf):
    """mentors=openai_compatible: its models read these through interpolations."""
    base_url: Optional[str] = MISSING
    api_key_env: Optional[str] = None


@dataclass
class InternsConf:
    temperatures: List[float] = MISSING
    prompt: InternPrompt = MISSING
    models: List[ModelSpecConf] = field(default_factory=list)


@dataclass
class InternsEndpointConf(InternsConf):
    base_url: Optional[str] = MISSING
    api_key_env: Optional[str] = None


class JudgeKind(Choice):  # chiron.search.rule_judge
    model = "model"   # judge.spec answers Yes or No
    rules = "rules"   # an exact match after normalization, no model (judge=rules, the offline demo's)


@dataclass
class JudgeConf:
    temperature: float = MISSING
    kind: JudgeKind = JudgeKind.model
    spec: Optional[ModelSpecConf] = None   # required when kind=model
    lenience_seed: Optional[int] = None    # kind=rules: null = exact match only; a seed adds the demo's stand-in rule


@dataclass
class JudgeEndpointConf(JudgeConf):
    base_url: Optional[str] = MISSING
    api_key_env: Optional[str] = None
