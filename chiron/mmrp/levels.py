"""Information levels of a case (paper App. A.1, eq. 8-9): the token count of its imaging
analysis + discussion, measured with a real tokenizer, puts it in one of four levels, and the
level sets how many QA pairs the writer is asked for.

The paper gives neither the tokenizer's thresholds nor the per-level counts beyond "1, 2 or 3
pairs", so both are configuration (`mmrp.part1.levels`); the defaults are ours.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Levels:
    bounds: tuple[int, ...]  # ascending; level i holds counts < bounds[i], the last level the rest
    pairs: tuple[int, ...]  # QA pairs per level, len(bounds) + 1 entries

    def __post_init__(self) -> None:
        if len(self.pairs) != len(self.bounds) + 1:
            raise ValueError(f"levels: {len(self.bounds)} bounds need {len(self.bounds) + 1} pair counts, "
                             f"got {len(self.pairs)}")
        if list(self.bounds) != sorted(set(self.bounds)) or any(b <= 0 for b in self.bounds):
            raise ValueError(f"levels.bounds must be positive and strictly ascending, got {list(self.bounds)}")
        if any(p < 0 for p in self.pairs):
            raise ValueError(f"levels.pairs must be >= 0, got {list(self.pairs)}")

    @classmethod
    def from_config(cls, cfg: Any) -> "Levels":
        return cls(bounds=tuple(int(b) for b in cfg["bounds"]), pairs=tuple(int(p) for p in cfg["pairs"]))

    def level(self, n_tokens: int) -> int:
        return bisect.bisect_right(self.bounds, n_tokens)

    def pairs_for(self, n_tokens: int) -> tuple[int, int]:
        """(level, QA pairs) for a token count."""
        level = self.level(n_tokens)
        return level, self.pairs[level]


def token_counter(name_or_path: str) -> Callable[[str], int]:
    """Token counts from a Hugging Face tokenizer (local path or hub id)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    return count


def information_tokens(count: Callable[[str], int], analysis: str, discussion: str) -> int:
    return count(analysis) + count(discussion)
