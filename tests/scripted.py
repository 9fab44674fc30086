"""Scripted models for pinning the search's decisions without any real model.

Mentor X continuing a prefix of n steps writes steps tagged "X<n+1>", "X<n+2>", ... up to
`plan_len`, then "### The final answer is: right". An intern looks at the tag of the prefix's
last step: `table[tag]` of the intern runs (counted in a fixed intern/temperature order) answer
"right", the rest "wrong". The judge says Yes exactly for "right".
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable

from PIL import Image

from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.llm.types import ChatRequest, Completion
from chiron.search.case import Case
from chiron.search.roles import Roles

_TAG = re.compile(r"### Step (\d+): (\S+)")


class ScriptedBackend:
    def __init__(self, name: str, reply: Callable[[ChatRequest], str]) -> None:
        self.identity = f"scripted|{name}"
        self.reply = reply
        self.calls = 0

    async def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        text = self.reply(request)
        return Completion(text=text, tokens_in=10, tokens_out=5)

    async def aclose(self) -> None:
        pass


def last_tag(text: str) -> str | None:
    tags = _TAG.findall(text.split("Partial reasoning:")[-1].split("Reasoning so far:")[-1])
    return tags[-1][1] if tags else None


def mentor_reply(name: str, plan_len: int, final: str = "right"):
    def reply(request: ChatRequest) -> str:
        prompt = request.messages[-1].text
        n = len(_TAG.findall(prompt.split("Reasoning so far:")[-1].split("Now continue")[0]))
        steps = [f"### Step {i}: {name}{i}" for i in range(n + 1, max(plan_len, n + 1) + 1)]
        return "\n".join(steps + [f"### The final answer is: {final}"])
    return reply


class Script:
    """Builds roles around scripted backends and keeps their call counters."""

    def __init__(self, tmp_path, mentors=("A", "B", "C"), n_interns=2, temperatures=(0.3, 1.2),
                 table: dict | Callable | None = None, plan_len: int = 4, unparseable: set | None = None,
                 judge_text: Callable[[str], str] | None = None) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.image = str(tmp_path / "img.png")
        Image.new("RGB", (8, 8), "gray").save(self.image)
        self.cache = CallCache(str(tmp_path / "cache"))
        self.ledger = Ledger()
        self.table = table or {}
        self.unparseable = unparseable or set()
        self.run_order = [(f"intern{i}", t) for i in range(n_interns) for t in temperatures]
        self.mentor_backends = {m: ScriptedBackend(m, mentor_reply(m, plan_len)) for m in mentors}
        self.intern_backends = {f"intern{i}": ScriptedBackend(f"intern{i}", self._intern_reply(f"intern{i}"))
                                for i in range(n_interns)}
        self.judge_backend = ScriptedBackend("judge", lambda r: (judge_text or _default_judge)(r.messages[-1].text))
        self.intern_prompts: Counter = Counter()
        self.roles = Roles(
            mentors=[self._model(m, b, "mentor") for m, b in self.mentor_backends.items()],
            mentor_temperature=0.7,
            interns=[self._model(m, b, "intern") for m, b in self.intern_backends.items()],
            intern_temperatures=list(temperatures),
            judge=self._model("judge", self.judge_backend, "judge"),
        )

    def _model(self, name, backend, role) -> CachedModel:
        return CachedModel(ModelSpec(name=name, backend="openai", model=name), backend, self.cache, self.ledger, role)

    def _intern_reply(self, intern: str):
        def reply(request: ChatRequest) -> str:
            tag = last_tag(request.messages[-1].text)
            if tag in self.unparseable:
                return "I am not sure."
            table = self.table(request.sample_index) if callable(self.table) else self.table
            k = table.get(tag, 0)
            idx = self.run_order.index((intern, request.sampling.temperature))
            return f"Reasoning.\n### The final answer is: {'right' if idx < k else 'wrong'}"
        return reply

    def case(self, rid: str = "c1") -> Case:
        return Case(rid=rid, question="What is it?", answer="right", images=(self.image,), image_refs=("img.png",),
                    presentation="cough", age="40 years", gender="Female",
                    captions=("According to the <image>\n, a nodule.",))

    def mentor_calls(self) -> dict[str, int]:
        return {m: b.calls for m, b in self.mentor_backends.items()}


def _default_judge(prompt: str) -> str:
    return "Yes" if prompt.rstrip().endswith("right") else "No"
