"""A tiny random-weight InternVL saved to disk, so offline tests and the demo load a real checkpoint.

The model is transformers' own `InternVLForConditionalGeneration` (vision tower + Qwen2 text model)
at toy sizes, with a byte-level BPE tokenizer trained here from a built-in word list and an
`InternVLProcessor`. It is written with `save_pretrained` and read back by the caller through
`AutoProcessor` / `AutoModelForImageTextToText`, i.e. the same code path a hub checkpoint takes.
The weights are random, so the text it generates is gibberish; only the plumbing is real.

With a `role`, the random model is then *primed* (`prime`): fine-tuned for a few seconds on
synthetic chats whose assistant turns have that role's output format (mentor: "### Step N:" lines
and a final answer; intern: a sentence and a final answer; judge: Yes or No; qa_writer: MMRP
Part 1 multiple-choice blocks; vqa_writer: a Part 3 "Question:/Correct Answer:" pair), so that the
offline demo runs every branch of the search and of the data builders. The primed models still
know no medicine (see `priming_texts`).

Modules, by job:
  build          the model and its processor, `ensure_tiny_model` and the recipe stamp on disk
  tokenizer      the chat format, the word lists and the offline BPE tokenizer
  priming        `prime`, the fine-tuning loop, and its per-role settings
  priming_texts  what priming trains on, and the primed judge's verdict rule
  processor      `load_processor` / `save_processor`: the no-video-processor workaround, which
                 every processor load needs, not only the tiny model's

This package re-exports the names other modules import from `chiron.llm.tiny`. The per-role
priming settings (`PRIME_STEPS`, ...) are deliberately not re-exported: `prime` reads them from
`chiron.llm.tiny.priming` when it runs, so a copy here could be patched without any effect.
"""

# `from m import _x as _x`: a private helper the tests exercise as chiron.llm.tiny._x, re-exported but
# kept out of __all__.
from chiron.llm.tiny.build import (
    KINDS,
    RECIPE,
    STAMP_FILE,
    build_tiny_internvl,
    ensure_tiny_model,
    is_saved_model,
    recipe_stamp,
)
from chiron.llm.tiny.priming import ROLES, prime
from chiron.llm.tiny.priming import _priming_batch as _priming_batch
from chiron.llm.tiny.priming_texts import _intern_reply as _intern_reply
from chiron.llm.tiny.priming_texts import _mentor_reply as _mentor_reply
from chiron.llm.tiny.priming_texts import _priming_texts as _priming_texts
from chiron.llm.tiny.priming_texts import stand_in_verdict as stand_in_verdict
from chiron.llm.tiny.processor import load_processor, save_processor, videoless_processors
from chiron.llm.tiny.tokenizer import _STEP_WORDS as _STEP_WORDS
from chiron.llm.tiny.tokenizer import IM_END, PRIMING_ANSWERS
from chiron.llm.tiny.tokenizer import _build_tokenizer as _build_tokenizer

__all__ = [
    "IM_END",
    "KINDS",
    "PRIMING_ANSWERS",
    "RECIPE",
    "ROLES",
    "STAMP_FILE",
    "build_tiny_internvl",
    "ensure_tiny_model",
    "is_saved_model",
    "load_processor",
    "prime",
    "recipe_stamp",
    "save_processor",
    "videoless_processors",
]
