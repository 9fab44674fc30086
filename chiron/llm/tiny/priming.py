"""Priming: a few seconds of fine-tuning that give a tiny random model one role's output format.

`prime` is the training loop; what it trains on (random prompts, replies in the role's format, the
judge's verdict rule) is in `chiron.llm.tiny.priming_texts`. The per-role settings below are read
when `prime` runs, so a test that shortens priming patches them here, in this module.
"""

from __future__ import annotations

import os
import random
from typing import Any

from chiron.llm.tiny.priming_texts import _priming_texts
from chiron.llm.tiny.tokenizer import IM_END

# The roles a tiny model can be primed for (`ensure_tiny_model(role=...)`, `ModelSpec.tiny_role`).
ROLES = ("mentor", "intern", "judge", "qa_writer", "vqa_writer")

# Updates, batch size and learning rate per role, so that each model primes in 5-7 s on a
# 2-core CPU (the writers in 10-25 s: their multi-line layouts take more updates to hold; measured
# 24 of 24 sampled replies parse at these settings). Updates matter more than batch size. The intern needs the most (it is sampled at
# temperature 1.2, which punishes a half-learned format); the judge's one-token replies take a
# higher rate, which its verdict rule (priming_texts._judge_lenience) needs to be learned in time;
# mentor prompts and replies are the longest, so its batches are the smallest.
PRIME_STEPS = {"mentor": 100, "intern": 180, "judge": 250, "qa_writer": 400, "vqa_writer": 200}
PRIME_BATCH = {"mentor": 8, "intern": 12, "judge": 12, "qa_writer": 8, "vqa_writer": 8}
PRIME_LR = {"mentor": 5e-3, "intern": 5e-3, "judge": 1e-2, "qa_writer": 5e-3, "vqa_writer": 5e-3}
# Short-memory Adam moments: with so few updates, the default (0.9, 0.999) adapts too slowly.
PRIME_BETAS = (0.8, 0.9)


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
