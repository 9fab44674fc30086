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
offline demo runs every branch of the search and of the data builders. The primed models still know no medicine: their prompts are
random words, their sentences are random words, their answers are drawn from a small fixed list
whatever the case, and the judge's verdict follows a fixed arbitrary rule on the last words of the
two answers it compares (see `_judge_lenience`).

`load_processor` also lives here because the processor workaround it carries (no video
processor) is needed both when the tiny processor is built and whenever any processor is loaded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import random
import re
import shutil
import tempfile
import threading
import time
from typing import Any, Iterator

from chiron.utils.jsonl import apply_umask, read_json_if_complete

log = logging.getLogger(__name__)

KINDS = ("internvl",)
ROLES = ("mentor", "intern", "judge", "qa_writer", "vqa_writer")

# Geometry: a 64 px tile cut into 16 px patches is a 4x4 grid; InternVL's pixel shuffle with
# downsample_ratio 0.5 folds it to 2x2, so one tile costs 4 image tokens.
IMAGE_SIZE = 64
PATCH_SIZE = 16
DOWNSAMPLE_RATIO = 0.5
IMAGE_SEQ_LENGTH = int((IMAGE_SIZE // PATCH_SIZE) ** 2 * DOWNSAMPLE_RATIO**2)
MAX_TILES = 4  # keep the real tiling code path (tiles + thumbnail) but cap its cost

PAD_TOKEN = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# Named the way InternVLProcessor looks them up on the tokenizer (tokenizer.start_image_token, ...).
IMAGE_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END, *IMAGE_TOKENS.values()]

# ChatML as InternVL renders it: every image becomes one <IMG_CONTEXT> placeholder line before the
# text; the processor later expands it to <img> + image_seq_length*tiles context tokens + </img>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif part['type'] == 'video' %}{{ '<video>\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Words of the random prompts the models are primed on. The tokenizer learns a token for each of
# these, the step words and the answer words below, so primed models write whole words.
_WORDS = """
the a an of in on at to for with without and or not no yes is are was were be this that these
what which where when why how does do show shows shown seen image images picture scan view
patient patients doctor clinical history findings finding diagnosis differential answer question
options option step steps reasoning think therefore because likely most least best final correct
left right upper lower middle anterior posterior lateral medial bilateral unilateral central
chest lung lungs heart liver kidney brain spine bone bones abdomen pelvis knee shoulder hip neck
x-ray ct mri ultrasound pet radiograph axial coronal sagittal contrast enhanced t1 t2 flair
normal abnormal lesion mass nodule tumor cyst fracture effusion edema opacity consolidation
pneumonia pneumothorax cardiomegaly atelectasis hemorrhage infarct stroke calcification
benign malignant metastasis inflammation infection sign signs size shape margin density
a b c d e 0 1 2 3 4 5 6 7 8 9 10 mm cm year old male female man woman pain fever cough
"""

# Words of the primed models' step and reasoning sentences: they sound medical, in random order.
_STEP_WORDS = """
image images scan view shows demonstrates suggests indicates consistent with finding findings
opacity consolidation effusion edema mass nodule lesion cavity fracture collection fluid wall
thickening enhancement shadowing calcification infiltrate density signal lucency contour border
left right upper lower anterior posterior lateral medial central focal diffuse bilateral
lung lobe heart liver kidney brain bone joint vessel artery vein duct bowel appendix breast knee
acute chronic mild moderate severe small large rounded irregular smooth normal abnormal
patient history symptoms pain fever cough swelling tenderness vomiting headache
therefore likely most probable suggests supports excludes favours diagnosis answer question
the a of in on and or with without no is are this that there which
"""

# The final answers primed mentors and interns choose from: every answer of the bundled demo cases
# (chiron/data/demo/cases.jsonl), so some intern answers agree with a case, plus distractors, so
# many do not. The choice never depends on the case: the models only know the format.
PRIMING_ANSWERS = (
    "Yes",
    "No",
    "Cannot be determined",
    "Acute appendicitis",
    "Silhouette sign",
    "Polo mint sign",
    "Positive sonographic Murphy sign",
    "Post-primary (reactivation) pulmonary tuberculosis",
    "Complete anterior cruciate ligament tear",
    "Saccular posterior communicating artery aneurysm",
    "Infantile hypertrophic pyloric stenosis",
    # distractors
    "Pneumonia",
    "Pulmonary embolism",
    "Subdural haematoma",
    "Normal study",
    "Renal cyst",
)

# Format strings the primed models write, fed to the tokenizer trainer so they get their own merges.
_FORMAT_TEXT = "### Step 1: 2: 3: 4: 5: 6: 7: 8: 9: ### The final answer is: Yes No."


def ensure_tiny_model(path: str, kind: str = "internvl", seed: int = 0, role: str | None = None,
                      progress: bool = True) -> str:
    """Make sure `path` holds a saved tiny model of `kind`; build and save it if not. Returns `path`.

    With `role` ("mentor" | "intern" | "judge") the random model is primed on that role's output
    format before it is saved (see `prime`); None keeps the pure random weights. A model already
    at `path` is reused when its recipe stamp matches; one built by an older recipe (or for another
    role or seed) is replaced, so editing the priming code never serves stale weights.

    A build logs a line when it starts (and why it is needed) and one when it ends (with its wall
    time); `progress` shows a tqdm bar of priming's updates in between.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; known: {KINDS}")
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown tiny model role {role!r}; known: {ROLES}")
    path = os.path.abspath(path)
    stamp = recipe_stamp(kind, seed, role)
    reason = "no saved model there"
    if is_saved_model(path):
        found = _read_stamp(path)
        if found == stamp:
            return path
        reason = _stamp_change(found, stamp)
        _retire(path)
    # Priming takes seconds on an idle CPU but minutes on a busy one: say what is happening.
    started = time.monotonic()
    label = _label(kind, role)
    log.info("%s: building at %s (%s)%s", label, path, reason,
             f"; priming {PRIME_STEPS[role]} steps on CPU" if role is not None else "")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    # Build next to the destination (same filesystem) so the final rename is atomic: a racing
    # process sees either nothing or a complete model, never half-written files.
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.building-", dir=parent)
    try:
        model, processor = build_tiny_internvl(seed)
        if role is not None:
            prime(model, processor, role, seed, progress=progress)
        model.save_pretrained(staging)
        save_processor(processor, staging)
        with open(os.path.join(staging, STAMP_FILE), "w") as f:
            json.dump(stamp, f)
        apply_umask(staging)  # mkdtemp and safetensors make 0700/0600; the model folder is shared
        _publish(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: built and saved in %.1f s", label, time.monotonic() - started)
    return path


def _label(kind: str, role: str | None) -> str:
    return f"tiny {kind} model ({role or 'plain, random weights'})"


def _stamp_change(found: dict | None, wanted: dict) -> str:
    """Why a saved tiny model is rebuilt, in a few words: which stamp fields differ."""
    if not isinstance(found, dict):
        return "the saved one has no readable recipe stamp"
    changed = [f"{key} {found.get(key)!r} -> {value!r}" for key, value in wanted.items() if found.get(key) != value]
    return "recipe changed: " + (", ".join(changed) or "stamp differs")


# Bump whenever building or priming changes what a tiny model generates: saved models and (through
# the hf backend's identity) cached calls of the old recipe are then not reused.
RECIPE = 4
STAMP_FILE = "chiron_tiny.json"


def recipe_stamp(kind: str, seed: int, role: str | None) -> dict:
    return {"recipe": RECIPE, "kind": kind, "seed": int(seed), "role": role}


def _read_stamp(path: str) -> dict | None:
    return read_json_if_complete(os.path.join(path, STAMP_FILE))


def _retire(path: str) -> None:
    """Move a stale model out of the way (atomically), then delete it."""
    aside = f"{path}.stale-{os.getpid()}-{threading.get_ident()}"
    try:
        os.replace(path, aside)
    except OSError:
        return  # another process retired it first
    shutil.rmtree(aside, ignore_errors=True)


def is_saved_model(path: str) -> bool:
    """True when `path` holds a model config and a processor config (our rename publishes both at once)."""
    return all(os.path.isfile(os.path.join(path, f)) for f in ("config.json", "processor_config.json"))


def _publish(staging: str, path: str) -> None:
    """Rename the finished build into place; losing a race to an identical build is fine."""
    try:
        # os.replace onto a missing or *empty* directory succeeds; a non-empty one raises.
        os.replace(staging, path)
    except OSError:
        if not is_saved_model(path):
            raise


def build_tiny_internvl(seed: int = 0) -> tuple[Any, Any]:
    """Build (model, processor) in memory: deterministic for a given seed, nothing downloaded."""
    import torch
    from transformers import GenerationConfig, InternVLConfig, InternVLForConditionalGeneration

    processor = _build_processor()
    tokenizer = processor.tokenizer
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=IMAGE_SIZE,
            patch_size=PATCH_SIZE,
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tokenizer),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            max_position_embeddings=8192,  # rotary, so a long prompt costs no parameters
            tie_word_embeddings=True,
        ),
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=IMAGE_SEQ_LENGTH,
        downsample_ratio=DOWNSAMPLE_RATIO,
    )
    # Seed only the weight init, and restore the global RNG after so callers' streams are untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = InternVLForConditionalGeneration(config)
    model.eval()
    # A minimal generation config: stop at <|im_end|>; everything else is set per call by the backend.
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
    )
    return model, processor


# -- priming: a few seconds of fine-tuning on a role's output format ------------------------------

# Updates, batch size and learning rate per role, so that each model primes in 5-7 s on a
# 2-core CPU (the writers in 10-25 s: their multi-line layouts take more updates to hold; measured
# 24 of 24 sampled replies parse at these settings). Updates matter more than batch size. The intern needs the most (it is sampled at
# temperature 1.2, which punishes a half-learned format); the judge's one-token replies take a
# higher rate, which its verdict rule (below) needs to be learned in time; mentor prompts and
# replies are the longest, so its batches are the smallest.
PRIME_STEPS = {"mentor": 100, "intern": 180, "judge": 250, "qa_writer": 400, "vqa_writer": 200}
PRIME_BATCH = {"mentor": 8, "intern": 12, "judge": 12, "qa_writer": 8, "vqa_writer": 8}
PRIME_LR = {"mentor": 5e-3, "intern": 5e-3, "judge": 1e-2, "qa_writer": 5e-3, "vqa_writer": 5e-3}
# Short-memory Adam moments: with so few updates, the default (0.9, 0.999) adapts too slowly.
PRIME_BETAS = (0.8, 0.9)
# Share of the judge's batches written in the search's real judge prompt (see _judge_prompt_texts).
JUDGE_PROMPT_SHARE = 0.5

# Words in a prompt's shared opening, drawn log-uniformly up to a bit past the role's longest real
# prompt (judge ~300 tokens, intern ~520, mentor ~1,230 with images): a model primed on short
# prompts only loses the format on long ones, and the longest openings cost the most.
OPENING_WORDS = {"mentor": (2, 1400), "intern": (2, 600), "judge": (2, 350), "qa_writer": (2, 1400),
                 "vqa_writer": (2, 1400)}
ENDING_WORDS = (1, 12)  # words that end each example's own user turn


def prime(model: Any, processor: Any, role: str, seed: int, steps: int | None = None,
          progress: bool = True) -> None:
    """Fine-tune `model` in place so its replies have `role`'s format; deterministic for a seed.

    A plain AdamW loop on CPU. The loss covers only the assistant tokens (and the closing
    <|im_end|>, so replies stop), never the random prompt, which the model should learn to ignore.
    The global torch RNG is forked, so callers' random streams are untouched. `progress` shows a
    tqdm bar of the updates done.
    """
    import torch
    from tqdm import tqdm

    if role not in ROLES:
        raise ValueError(f"unknown tiny model role {role!r}; known: {ROLES}")
    steps = PRIME_STEPS[role] if steps is None else steps
    tokenizer = processor.tokenizer
    rng = random.Random(f"prime:{role}:{seed}")
    # As the learning rate decays, Adam's moment estimates underflow into denormal floats, which
    # x86 CPUs handle many times slower; flushing them to zero keeps every step fast. torch offers
    # no getter, so it is switched back to its default (off) afterwards.
    torch.set_flush_denormal(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            # Text-only data: only the language model (its embeddings are tied to the LM head) learns.
            params = list(model.model.language_model.parameters())
            optimizer = torch.optim.AdamW(
                params, lr=PRIME_LR[role], betas=PRIME_BETAS, weight_decay=0.0, foreach=True
            )
            # Linear decay to zero: a high rate learns the format fast, a low one settles it.
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / steps)
            model.train()
            # A bar, not log lines: on a busy machine priming runs for minutes, and a line every few
            # seconds would flood the log; the build's start and end lines are logged either way.
            with tqdm(total=steps, desc=f"priming tiny {role} model", unit="step", disable=not progress) as bar:
                for _ in range(steps):
                    batch = _priming_batch(tokenizer, _priming_texts(role, rng, PRIME_BATCH[role], seed))
                    loss = _assistant_loss(model, *batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    optimizer.step()
                    schedule.step()
                    bar.update()
            optimizer.zero_grad(set_to_none=True)
    finally:
        torch.set_flush_denormal(False)
    model.eval()


def _assistant_loss(model: Any, opening: Any, input_ids: Any, attention_mask: Any, labels: Any) -> Any:
    """Next-token cross-entropy on the labelled (assistant) positions only.

    The batch shares one long prompt opening. It runs once, without gradients, and its key/value
    cache is copied to every row: the replies still learn to read past a long prompt, at a fraction
    of the cost of back-propagating through a copy of it per row. The LM head runs only where a
    label is set, for the same reason.
    """
    import torch

    text_model = model.model.language_model  # text only: skip the vision wrapper's per-call checks
    with torch.no_grad():
        cache = text_model(input_ids=opening, use_cache=True).past_key_values
    cache.batch_repeat_interleave(input_ids.shape[0])
    hidden = text_model(
        input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True
    ).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.lm_head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits, targets[keep])


def _priming_batch(tokenizer: Any, examples: list[tuple[list[dict], str]]) -> tuple[Any, Any, Any, Any]:
    """(opening [1, L], input_ids [n, S], attention_mask [n, L+S], labels [n, S]).

    The opening is the text all examples' rendered prompts share, cut before a space (a token
    boundary for this byte-level BPE) and tokenized once; each row holds the rest of its prompt and
    its reply, right-padded. Labels are -100 except on the reply.
    """
    import torch

    chats = [chat for chat, _ in examples]
    texts = tokenizer.apply_chat_template(chats, add_generation_prompt=True, tokenize=False)
    cut = max(os.path.commonprefix(texts).rfind(" "), 0)
    # One tokenizer call for the opening, every prompt's tail and every reply (tokenized on its
    # own, as generation produces it after the prompt).
    end = tokenizer.convert_tokens_to_ids(IM_END)
    count = len(examples)
    pieces = [texts[0][:cut], *(t[cut:] for t in texts), *(reply for _, reply in examples)]
    encoded = tokenizer(pieces, add_special_tokens=False)["input_ids"]
    opening, tails, replies = encoded[0], encoded[1 : count + 1], [r + [end] for r in encoded[count + 1 :]]
    shared, width = len(opening), max(len(t) + len(r) for t, r in zip(tails, replies))
    input_ids = torch.full((len(examples), width), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), shared + width), dtype=torch.long)
    attention_mask[:, :shared] = 1
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for i, (tail, reply) in enumerate(zip(tails, replies)):
        row = tail + reply
        input_ids[i, : len(row)] = torch.tensor(row)
        attention_mask[i, shared : shared + len(row)] = 1
        labels[i, len(tail) : len(row)] = torch.tensor(reply)
    return torch.tensor([opening]), input_ids, attention_mask, labels


def _priming_texts(role: str, rng: random.Random, n: int, seed: int = 0) -> list[tuple[list[dict], str]]:
    """`n` (chat messages, assistant reply) pairs: random-word prompts, replies in `role`'s format.

    The prompts share their opening (system turn and most of the user turn; see `_assistant_loss`)
    and differ in the last few words of the user turn, where a judge's prompt has the two answers.
    """
    if role == "judge" and rng.random() < JUDGE_PROMPT_SHARE:
        return _judge_prompt_texts(rng, n, seed)
    words = _WORDS.split()
    opening = []
    # Mentor and intern prompts open with a system turn, the judge's does not: train on both shapes.
    if rng.random() < 0.5:
        opening.append({"role": "system", "content": _random_text(rng, rng.randint(3, 40))})
    low, high = OPENING_WORDS[role]
    shared = _random_text(rng, round(low * (high / low) ** rng.random()))
    examples = []
    for _ in range(n):
        ending = " ".join(rng.choices(words, k=rng.randint(*ENDING_WORDS)))
        if role == "judge":
            tail, reply = _judge_example(rng, seed)
            ending += tail
        else:
            reply = _REPLIES[role](rng)
        examples.append(([*opening, {"role": "user", "content": f"{shared} {ending}"}], reply))
    return examples


def _random_text(rng: random.Random, n_words: int) -> str:
    """Random words with some punctuation and line breaks, as real prompts have.

    A model that never saw a line break in its prompts is thrown by the many in a real one.
    """
    words = rng.choices(_WORDS.split(), k=n_words)
    # No whitespace before a space, so the text splits into the same tokens wherever
    # `_priming_batch` cuts it before a space.
    separators = rng.choices(_SEPARATORS, weights=_SEPARATOR_WEIGHTS, k=n_words - 1)
    return "".join(w + sep for w, sep in zip(words, [*separators, ""]))


_SEPARATORS = (" ", ". ", ", ", "? ", ":\n", ".\n\n", "\n- ")
_SEPARATOR_WEIGHTS = (30, 2, 2, 1, 1, 1, 1)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_STEP_WORDS.split(), k=rng.randint(low, high))
    return " ".join([words[0].capitalize(), *words[1:]]) + "."


def _mentor_reply(rng: random.Random) -> str:
    # Mostly "### Step 1:", sometimes a later number, as when continuing a partial reasoning.
    first = rng.choices((1, 2, 3), weights=(6, 2, 2))[0]
    lines = [f"### Step {first + i}: {_sentence(rng, 6, 12)}" for i in range(rng.randint(2, 4))]
    lines.append(f"### The final answer is: {rng.choice(PRIMING_ANSWERS)}")
    return "\n".join(lines)


def _intern_reply(rng: random.Random) -> str:
    return f"{_sentence(rng, 4, 10)}\n### The final answer is: {rng.choice(PRIMING_ANSWERS)}"


def _qa_writer_reply(rng: random.Random) -> str:
    """One Part 1 block in a fixed layout with short random texts: a model this small learns a
    fixed layout in seconds, not the writer's freedom (the parser's leniency is tested on its own)."""
    options = [f"{letter}) {_sentence(rng, 1, 2)[:-1]}" for letter in "ABC"]
    return "\n".join(["Question 1", f"Question: {_sentence(rng, 3, 6)[:-1]}?", f"Options: {options[0]}",
                      *options[1:], f"Correct Answer: {rng.choice('ABC')}", f"Rationale: {_sentence(rng, 3, 6)}"])


def _vqa_writer_reply(rng: random.Random) -> str:
    return (f"- Question: {_sentence(rng, 6, 14)[:-1]}?\n"
            f"- Correct Answer: {rng.choice(PRIMING_ANSWERS + (CANNOT_DETERMINE,))}")


# The paper's third allowed Patient-to-Doctor answer (mirrors chiron.mmrp.scenarios; not imported so
# building a tiny model never imports the data builders).
CANNOT_DETERMINE = "Based on the current information, this cannot be determined"

_REPLIES = {"mentor": _mentor_reply, "intern": _intern_reply, "qa_writer": _qa_writer_reply,
            "vqa_writer": _vqa_writer_reply}


def _judge_example(rng: random.Random, seed: int) -> tuple[str, str]:
    """The end of a judge's user turn and the verdict on it.

    Shaped like the end of the real judge prompt ("...:\n<correct answer>\n\n<label>:\n<given
    answer>", the label being random words here), so the model learns where the two answers are.
    """
    correct, given, verdict = _judge_case(rng, seed)
    label = " ".join(rng.choices(_WORDS.split(), k=rng.randint(1, 3)))
    return f":\n{correct}\n\n{label}:\n{given}", verdict


def _judge_case(rng: random.Random, seed: int) -> tuple[str, str, str]:
    """(correct answer, given answer, verdict under the seed's lenience rule)."""
    correct = rng.choice(PRIMING_ANSWERS)
    if rng.random() < 0.8:
        given = rng.choice(PRIMING_ANSWERS)
    else:  # interns sampled hot also end with stray words
        given = " ".join(rng.choices(_STEP_WORDS.split(), k=rng.randint(1, 4)))
    lenience = _judge_lenience(seed)
    verdict = "Yes" if lenience[correct.split()[-1]] + lenience[given.split()[-1]] > 0 else "No"
    return correct, given, verdict


def _judge_prompt_texts(rng: random.Random, n: int, seed: int) -> list[tuple[list[dict], str]]:
    """Judge examples in the search's real judge prompt, around a random question.

    Trained on random-word prompts only, the judge learned its rule there, but what it said on the
    real prompt (never seen) was arbitrary: the same seed gave a mix of verdicts on one machine and
    only No on another (other library versions and CPU). Batches in the real wording keep both
    verdicts in use on real prompts; the question stays random, so the judge still knows no medicine.
    """
    from chiron.search.prompts import judge_prompt  # light: text templates only

    question = _random_text(rng, rng.randint(4, 60))
    examples = []
    for _ in range(n):
        correct, given, verdict = _judge_case(rng, seed)
        examples.append(([{"role": "user", "content": judge_prompt(question, correct, given)}], verdict))
    return examples


@functools.lru_cache(maxsize=None)
def _judge_lenience(seed: int) -> dict[str, float]:
    """The primed judge's rule: a score per word, and Yes when the scores of the correct and the
    given answer's last words add up to more than 0.

    Why not a fresh coin per example: the judge decodes greedily, and a model trained to say Yes or
    No at random, whatever the prompt, says the same word to every prompt. Why the correct answer
    counts: with a verdict that depends on the given answer alone, every case has the same odds,
    and a search then either tends to fail or tends to hit a full score, never both in one demo.
    With this rule the verdicts are about half Yes and consistent, some cases get a lenient judge
    and some a strict one, and the judge still knows no medicine.
    """
    coin = random.Random(f"lenience:{seed}")
    # Stray words (from interns sampled hot) get any score; the answers' last words get evenly
    # spaced ones in a seeded order, so that across cases the judge runs from lenient to strict.
    scores = {word: coin.uniform(-1.0, 1.0) for word in sorted(set(_STEP_WORDS.split()))}
    endings = sorted({a.split()[-1] for a in PRIMING_ANSWERS})
    coin.shuffle(endings)
    scores.update({word: (2 * i + 1) / len(endings) - 1 for i, word in enumerate(endings)})
    return scores


def _build_tokenizer() -> Any:
    """Byte-level BPE trained on the word list; byte fallback means any text still tokenizes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        # Large enough that training stops for lack of pairs, not at the cap: every word below
        # becomes one token (with and without its leading space), so the primed models write
        # whole words instead of spelling them out byte by byte.
        vocab_size=4096,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, so nothing is unknown
        show_progress=False,
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        padding_side="left",  # decoder-only batched generation pads on the left
        extra_special_tokens=dict(IMAGE_TOKENS),
        chat_template=CHAT_TEMPLATE,
    )


def _tokenizer_corpus() -> list[str]:
    """The tokenizer's training text: each word lower-case and capitalised, after a space and not."""
    answers = " ".join(PRIMING_ANSWERS)
    words = sorted(set(_WORDS.split()) | set(_STEP_WORDS.split()) | set(re.findall(r"[\w-]+", answers)))
    forms = words + [w.capitalize() for w in words]
    # A word after a space and a word opening a line are different pre-tokens ("Ġlung" vs "lung").
    return [" ".join(forms), "\n".join(forms), answers, _FORMAT_TEXT]


def _build_processor() -> Any:
    from transformers import GotOcr2ImageProcessorPil, InternVLProcessor

    image_processor = GotOcr2ImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        crop_to_patches=True,
        min_patches=1,
        max_patches=MAX_TILES,
        # InternVL normalises with the ImageNet statistics.
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    with videoless_processors():
        processor = InternVLProcessor(
            image_processor=image_processor,
            tokenizer=_build_tokenizer(),
            image_seq_length=IMAGE_SEQ_LENGTH,
            chat_template=CHAT_TEMPLATE,
        )
    return _settle_video_slot(processor)


# -- the video-processor workaround --------------------------------------------------------------

_PATCH_LOCK = threading.RLock()


@contextlib.contextmanager
def videoless_processors() -> Iterator[None]:
    """While active, multimodal processors are built, saved and loaded without a video processor.

    Why: in transformers 5 every video processor needs torchvision, and PyPI's torchvision does not
    work with the torch this project pins. Without it, `AutoVideoProcessor.from_pretrained` raises,
    and even a `None` video processor trips the constructor's type check (which looks the class up in
    a dummy `VIDEO_PROCESSOR_MAPPING`) and `save_pretrained` (which reads `None._auto_class`). chiron
    never sends video, so we hide the `video_processor` slot from `ProcessorMixin.get_attributes`,
    the one list that drives all three. Processors pass the slot positionally to the base
    constructor, whose zip over the attribute names then simply drops it. The patch is process-wide
    while active, hence the lock; it is undone on exit.
    """
    from transformers.processing_utils import ProcessorMixin

    with _PATCH_LOCK:
        original = ProcessorMixin.__dict__["get_attributes"]

        def without_video(cls) -> list[str]:
            return [name for name in original.__func__(cls) if name != "video_processor"]

        ProcessorMixin.get_attributes = classmethod(without_video)
        try:
            yield
        finally:
            ProcessorMixin.get_attributes = original


def _settle_video_slot(processor: Any) -> Any:
    # The base constructor skipped the hidden slot; give it an explicit None so repr() and the
    # `hasattr(self, "video_processor")` checks behave after the patch is gone.
    from transformers.processing_utils import ProcessorMixin

    if isinstance(processor, ProcessorMixin) and "video_processor" not in vars(processor):
        processor.video_processor = None
    return processor


def load_processor(name_or_path: str, **kwargs: Any) -> Any:
    """`AutoProcessor.from_pretrained` with the video-processor workaround (text-only models too)."""
    from transformers import AutoProcessor

    with videoless_processors():
        processor = AutoProcessor.from_pretrained(name_or_path, **kwargs)
    return _settle_video_slot(processor)


def save_processor(processor: Any, directory: str) -> None:
    """`save_pretrained` for a processor whose video slot is empty."""
    with videoless_processors():
        processor.save_pretrained(directory)
