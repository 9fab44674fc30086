"""Tiny models primed on their role's output format, as the offline demo uses them (conf/*/tiny.yaml).

The primed models are built through `HFBackend` from the demo's own specs, so these tests also
check that the backend hands `spec.tiny_role` to `ensure_tiny_model`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from chiron.data import make_demo  # noqa: E402
from chiron.llm import tiny  # noqa: E402
from chiron.llm.hf_backend import HFBackend  # noqa: E402
from chiron.llm.types import ChatRequest, Sampling  # noqa: E402
from chiron.search.case import Case, read_cases  # noqa: E402
from chiron.search.job import judge_spec, model_specs  # noqa: E402
from chiron.search.prompts import intern_messages, judge_messages, mentor_messages  # noqa: E402
from chiron.search.steps import extract_final_answer, parse_continuation, render_path  # noqa: E402
from conftest import compose_config  # noqa: E402

DEMO = Path(make_demo.__file__).resolve().parent / "demo"
PREFIXES = (
    (),
    ("The chest radiograph shows a rounded opacity in the right upper lobe.",),
    ("Mild edema of the left lung is seen.", "There is no effusion and the heart is normal."),
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's config, with the tiny models built in a fresh folder."""
    # judge=tiny: the primed judge model (the demo itself judges with judge=rules)
    return compose_config([f"paths.tiny_model_dir={tmp_path_factory.mktemp('tiny_models')}", "judge=tiny"])


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    found = [c for c in read_cases(str(DEMO / "cases.jsonl"), str(DEMO / "images")) if isinstance(c, Case)]
    assert len(found) == 12
    return found


def _draws(spec, requests: list[ChatRequest]) -> list[str]:
    # One request per generate call: each draw's seed then depends on the request alone, so the
    # test does not depend on how concurrent requests happen to be grouped.
    backend = HFBackend(dataclasses.replace(spec, device="cpu", batch_size=1))

    async def run():
        try:
            return [(await backend.complete(r)).text for r in requests]
        finally:
            await backend.aclose()

    return asyncio.run(run())


def _request(spec, messages, temperature: float, index: int) -> ChatRequest:
    # The sampling a role's CachedModel would send for this spec.
    sampling = Sampling(temperature=temperature, top_p=spec.top_p, top_k=spec.top_k,
                        max_tokens=spec.max_tokens)
    return ChatRequest(spec.model, tuple(messages), sampling, index)


def test_primed_intern_ends_with_a_final_answer_at_both_temperatures(demo, cases):
    spec = model_specs(demo.interns)[0]
    assert spec.tiny_role == "intern"
    for temperature in demo.interns.temperatures:  # 0.3 and 1.2, as in the paper
        requests = [
            _request(spec, intern_messages(case, render_path(list(PREFIXES[i % 3]))), temperature, i)
            for i, case in enumerate(cases[:10])
        ]
        replies = _draws(spec, requests)
        answers = [extract_final_answer(r) for r in replies]
        parsed = sum(a is not None for a in answers)
        assert parsed >= 7, f"T={temperature}: {parsed}/10 parseable: {replies}"


def test_primed_mentor_writes_steps(demo, cases):
    spec = model_specs(demo.mentors)[0]
    assert spec.tiny_role == "mentor"
    requests = [
        _request(spec, mentor_messages(case, render_path(list(prefix)), len(prefix) + 1),
                 demo.mentors.temperature, i)
        for i, (case, prefix) in enumerate(zip(cases[:4], PREFIXES * 2))
    ]
    for reply in _draws(spec, requests):
        assert parse_continuation(reply).steps, f"no '### Step N:' line in {reply!r}"


def test_primed_judge_says_yes_or_no_and_not_always_the_same(demo, cases):
    spec = judge_spec(demo.judge)
    assert spec.tiny_role == "judge"
    answers = ("Yes", "Acute appendicitis", "Silhouette sign", "Renal cyst")
    pairs = [(case, answer) for case in cases[::4] for answer in answers]
    requests = [_request(spec, judge_messages(case, a), demo.judge.temperature, 0) for case, a in pairs]
    replies = _draws(spec, requests)
    words = [r.strip().split()[0] if r.strip() else "" for r in replies]
    assert all(w in ("Yes", "No") for w in words), replies
    assert {"Yes", "No"} <= set(words), "the judge gives one verdict to every answer of every case"


def test_priming_is_deterministic_and_no_role_means_no_priming(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    monkeypatch.setattr("chiron.llm.tiny.priming.PRIME_STEPS", {role: 3 for role in tiny.ROLES})
    rng_before = torch.random.get_rng_state()
    first = tiny.ensure_tiny_model(str(tmp_path / "a"), "internvl", seed=2, role="intern")
    again = tiny.ensure_tiny_model(str(tmp_path / "b"), "internvl", seed=2, role="intern")
    other = tiny.ensure_tiny_model(str(tmp_path / "c"), "internvl", seed=3, role="intern")
    plain = tiny.ensure_tiny_model(str(tmp_path / "d"), "internvl", seed=2)
    assert torch.equal(torch.random.get_rng_state(), rng_before), "priming moved the global torch RNG"

    def weights(path):
        return load_file(os.path.join(path, "model.safetensors"))

    a, b, c, d = weights(first), weights(again), weights(other), weights(plain)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # role=None saves the random model exactly as built: no priming step touched it.
    built, _ = tiny.build_tiny_internvl(seed=2)
    built.save_pretrained(tmp_path / "built")
    e = weights(tmp_path / "built")
    assert d.keys() == e.keys() and all(torch.equal(d[k], e[k]) for k in d)
    # Priming changes the text model only; the vision side has no text-only gradient.
    changed = {k for k in a if not torch.equal(a[k], d[k])}
    assert changed and all(k.startswith("language_model.") for k in changed)


def test_unknown_role_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="role"):
        tiny.ensure_tiny_model(str(tmp_path / "x"), "internvl", role="nurse")
    assert not os.path.exists(tmp_path / "x")


def test_priming_batch_matches_the_chat_template():
    import random

    _, processor = tiny.build_tiny_internvl(seed=0)
    tokenizer = processor.tokenizer
    end = tokenizer.convert_tokens_to_ids(tiny.IM_END)
    rng = random.Random(0)
    for role in tiny.ROLES:
        for _ in range(5):
            examples = tiny._priming_texts(role, rng, 4, seed=0)
            opening, input_ids, attention_mask, labels = tiny._priming_batch(tokenizer, examples)
            width = input_ids.shape[1]
            assert attention_mask.shape == (4, opening.shape[1] + width)
            for row, (messages, reply) in enumerate(examples):
                prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
                prompt = list(prompt if isinstance(prompt, list) else prompt["input_ids"])
                answer = tokenizer(reply, add_special_tokens=False)["input_ids"] + [end]
                kept = attention_mask[row, opening.shape[1]:].bool()
                assert opening[0].tolist() + input_ids[row][kept].tolist() == prompt + answer
                assert labels[row][labels[row] != -100].tolist() == answer


def test_reply_formats_and_vocabulary(cases):
    import random

    rng = random.Random(0)
    for _ in range(20):
        mentor = parse_continuation(tiny._mentor_reply(rng))
        assert 2 <= len(mentor.steps) <= 4 and mentor.final_answer in tiny.PRIMING_ANSWERS
        assert extract_final_answer(tiny._intern_reply(rng)) in tiny.PRIMING_ANSWERS
    # Interns can hit every demo answer; the tokenizer has one token per word they write.
    assert {case.answer for case in cases} <= set(tiny.PRIMING_ANSWERS)
    tokenizer = tiny._build_tokenizer()
    format_words = {"Step", "final", "answer", "appendicitis", "Silhouette"}
    for word in sorted(set(tiny._STEP_WORDS.split()) | format_words):
        assert len(tokenizer(" " + word, add_special_tokens=False)["input_ids"]) == 1, word
