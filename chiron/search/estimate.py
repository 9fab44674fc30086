"""`task=estimate`: what `task=search` would cost, before any model is called.

The cases are read as the search reads them (data.path, data.limit, data.shard/num_shards); the
calls per case come from chiron/search/call_count.py (low / expected / high); token sizes from the
real prompt texts of the cases (characters / CHARS_PER_TOKEN) plus a fixed count per image, and
the reasoning steps and replies from the constants below. Dollars use each model spec's prices;
a model with no price is "local" and costs 0. Options, all optional (`+estimate.KEY=VALUE`):
cases (estimate for N cases; needed when data.path does not exist yet), full_score_rate,
economy_run_share, rule_share, vanilla_steps (call_count.Guesses), image_tokens, step_tokens.

Over 300 lines: the cost model (token sizes per role, scenarios, prices) and its report belong
together so a change to one is checked against the other.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from chiron.llm.spec import ModelSpec
from chiron.search.call_count import SCENARIOS, Group, Guesses, Shape, case_calls, path_steps
from chiron.search.case import BadRecord, Case, read_cases
from chiron.search.job import intern_prompt, judge_spec, model_specs, search_settings
from chiron.search.prompts import intern_messages, judge_messages, mentor_messages
from chiron.search.rule_judge import is_rule_judge
from chiron.search.steps import render_path
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import atomic_write_json
from chiron.utils.paths import package_path, run_dir

log = logging.getLogger(__name__)

# Assumed sizes (the estimate's own, not measured): text tokens are characters / 4, as for
# English with common tokenizers; an image sent to an API costs OpenAI's high-detail count for a
# 512 px image (scaled to 768 px: 4 tiles x 170 + 85); an in-process model's image is one 448 px
# InternVL tile (256 tokens), which costs nothing anyway.
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = {"openai": 765, "hf": 256, "vllm": 256}
STEP_TOKENS = 100  # one reasoning step
FINAL_LINE_TOKENS = 15  # "### The final answer is: ..."
INTERN_OUT_TOKENS = {"final_answer": 15, "brief_reasoning": 120}  # by interns.prompt
JUDGE_OUT_TOKENS = 2  # "Yes" / "No"
OPTIONS = ("cases", "full_score_rate", "economy_run_share", "rule_share", "vanilla_steps", "image_tokens",
           "step_tokens")
DEMO_CASES, DEMO_IMAGES = "data/demo/cases.jsonl", "data/demo/images"


@dataclass(frozen=True)
class Sizes:
    """Mean prompt sizes of the sampled cases, in characters, with no reasoning and no model answer."""

    mentor_chars: float
    intern_chars: float
    judge_chars: float
    answer_chars: float
    images: float
    sampled: int


@dataclass(frozen=True)
class RoleSpecs:
    """The model specs of the three roles, as the search would build them (no model is loaded)."""

    mentors: list[ModelSpec]
    interns: list[ModelSpec]
    judge: ModelSpec | None  # None: judge=rules, no calls
    intern_prompt: str
    vanilla_mentor: str | None = None


def run(cfg: DictConfig) -> dict:
    options = estimate_options(cfg)
    cases, set_aside, source = load_cases(cfg, options.get("cases"))
    n_cases = int(options["cases"]) if options.get("cases") is not None else len(cases)
    roles, shape = roles_and_shape(cfg)
    guesses = Guesses(**{k: options[k] for k in ("full_score_rate", "economy_run_share", "rule_share",
                                                   "vanilla_steps") if options.get(k) is not None})
    result = estimate(shape, guesses, roles, case_sizes(cases, roles.intern_prompt), n_cases,
                      image_tokens=options.get("image_tokens"),
                      step_tokens=int(options.get("step_tokens") or STEP_TOKENS))
    result.update(source=source, set_aside=set_aside)
    path = os.path.join(run_dir(cfg), "estimate.json")
    atomic_write_json(path, result)
    print(format_table(result))
    log.info("estimate written to %s", path)
    return result


def estimate_options(cfg: DictConfig) -> dict:
    raw = cfg.get("estimate") or {}
    options = OmegaConf.to_container(raw, resolve=True) if OmegaConf.is_config(raw) else dict(raw)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"estimate: unknown keys {unknown}; known: {list(OPTIONS)}")
    if options.get("cases") is not None and int(options["cases"]) < 0:
        raise ValueError(f"estimate.cases must be >= 0, got {options['cases']!r}")
    return options


def load_cases(cfg: DictConfig, cases_given: int | None) -> tuple[list[Case], int, str]:
    """The cases the search would read, the number it would set aside, and where they came from.
    When data.path cannot be read (the pipeline's Part 3 output before it exists) and
    estimate.cases is given, the bundled demo cases stand in for the case sizes."""
    try:
        data = cfg.data
        items = list(read_cases(str(data.path), str(data.image_root), shard=int(data.shard),
                                num_shards=int(data.num_shards), limit=data.get("limit")))
        source = f"data.path={data.path}"
    except (OmegaConfBaseException, OSError, ValueError) as exc:  # unresolvable ${latest:...}, no file
        if cases_given is None:
            raise TaskFailed(f"estimate: cannot read the search input ({exc}); give +estimate.cases=N to "
                             "estimate a search over N cases") from None
        items = list(read_cases(package_path(DEMO_CASES), package_path(DEMO_IMAGES)))
        source = f"data.path unreadable ({type(exc).__name__}); case sizes from the bundled demo cases"
    cases = [c for c in items if isinstance(c, Case)]
    return cases, sum(isinstance(c, BadRecord) for c in items), source


def roles_and_shape(cfg: DictConfig) -> tuple[RoleSpecs, Shape]:
    settings = search_settings(cfg.search, cfg.seed)  # the search's own checks on its settings
    method = str(cfg.search.name)
    mentors, interns = model_specs(cfg.mentors), model_specs(cfg.interns)
    vanilla_mentor = cfg.search.get("vanilla_mentor") if method == "vanilla" else None
    if vanilla_mentor is not None and vanilla_mentor not in {m.name for m in mentors}:
        raise ValueError(f"search.vanilla_mentor={vanilla_mentor!r} is not one of the mentors "
                         f"{sorted(m.name for m in mentors)}")
    judge = None if is_rule_judge(cfg.judge) else judge_spec(cfg.judge)  # the rule costs nothing
    roles = RoleSpecs(mentors, interns, judge, intern_prompt(cfg.interns), vanilla_mentor)
    shape = Shape(method=method, mentors=len(mentors), interns=len(interns),
                  temperatures=len(cfg.interns.temperatures), max_depth=settings.max_depth,
                  max_retries=settings.max_retries, first_depth_steps=settings.first_depth_steps,
                  economy=settings.economy, wave=settings.wave,
                  score_paths=method == "vanilla" and bool(cfg.search.get("score_vanilla_paths", False)))
    if not shape.mentors or not shape.runs:
        raise ValueError("the search needs at least one mentor, one intern and one intern temperature")
    return roles, shape


def case_sizes(cases: list[Case], style: str) -> Sizes:
    if not cases:
        return Sizes(0.0, 0.0, 0.0, 0.0, 0.0, 0)
    empty = render_path([])

    def chars(messages) -> int:
        return sum(len(m.text) for m in messages)

    n = len(cases)
    return Sizes(mentor_chars=sum(chars(mentor_messages(c, empty, 1)) for c in cases) / n,
                 intern_chars=sum(chars(intern_messages(c, empty, style)) for c in cases) / n,
                 judge_chars=sum(chars(judge_messages(c, "")) for c in cases) / n,
                 answer_chars=sum(len(c.answer) for c in cases) / n,
                 images=sum(len(c.images) for c in cases) / n, sampled=n)


def is_local(spec: ModelSpec) -> bool:
    return not (spec.price_in_per_mtok or spec.price_out_per_mtok or spec.price_cached_in_per_mtok)


def estimate(shape: Shape, guesses: Guesses, roles: RoleSpecs, sizes: Sizes, n_cases: int,
             image_tokens: int | None = None, step_tokens: int = STEP_TOKENS) -> dict:
    """Calls, tokens and dollars per role/model for each scenario, for `n_cases` cases like `sizes`."""
    sizer = _Sizer(shape, guesses, roles, sizes, image_tokens, step_tokens)
    rows: dict[str, dict] = {}
    specs: dict[str, ModelSpec] = {}
    for scenario in SCENARIOS:
        for group in case_calls(shape, scenario, guesses):
            for spec, share in _shares(group.role, roles):
                key = f"{group.role}/{spec.name}"
                specs[key] = spec
                row = rows.setdefault(key, {"local": is_local(spec), **{s: _zero() for s in SCENARIOS}})
                calls = group.calls * share * n_cases
                cell = row[scenario]
                cell["calls"] += calls
                cell["tokens_in"] += calls * sizer.tokens_in(group, spec, scenario)
                cell["tokens_out"] += calls * sizer.tokens_out(group, spec, scenario)
    for key, row in rows.items():
        for scenario in SCENARIOS:
            cell = row[scenario]
            # low prices input as read from the provider's prompt cache (where it has a price for that)
            cached = cell["tokens_in"] if scenario == "low" else 0
            cell["cost_usd"] = (0.0 if row["local"]
                                else specs[key].cost(cell["tokens_in"], cell["tokens_out"], cached))
    total: dict[str, Any] = {"local": all(r["local"] for r in rows.values()),
                             **{s: _zero() for s in SCENARIOS}}
    for row in rows.values():
        for s in SCENARIOS:
            for k in total[s]:
                total[s][k] += row[s][k]
    return {
        "cases": n_cases, "cases_sampled_for_sizes": sizes.sampled,
        "search": dataclasses.asdict(shape),
        "rows": {k: _rounded(v) for k, v in rows.items()}, "total": _rounded(total),
        "assumptions": assumptions(guesses, sizes, image_tokens, step_tokens, roles.intern_prompt, shape),
    }


def assumptions(guesses: Guesses, sizes: Sizes, image_tokens: int | None, step_tokens: int, style: str,
                shape: Shape) -> dict:
    return {
        "tokens": f"text tokens = characters / {CHARS_PER_TOKEN} of the real prompts of the cases",
        "image_tokens": image_tokens if image_tokens is not None else IMAGE_TOKENS,
        "images_per_case": round(sizes.images, 3),
        "step_tokens": step_tokens, "final_line_tokens": FINAL_LINE_TOKENS,
        "intern_out_tokens": INTERN_OUT_TOKENS.get(style), "judge_out_tokens": JUDGE_OUT_TOKENS,
        "path_steps": path_steps(shape, guesses),
        "expected": dataclasses.asdict(guesses),
        "high": "every call writes its max_tokens; a prefix step may be as long as a whole mentor reply",
        "low": "input priced at the cached-input price where one is set",
        "cache": "the call cache is empty: every call is paid (a rerun or a repeated judge question costs 0)",
        "calls_split": "a role's calls are split evenly over its models",
    }


class _Sizer:
    """Tokens in and out of one call of a group, by model and scenario."""

    def __init__(self, shape: Shape, guesses: Guesses, roles: RoleSpecs, sizes: Sizes, image_tokens: int | None,
                 step_tokens: int) -> None:
        self.sizes, self.image_tokens, self.step_tokens = sizes, image_tokens, step_tokens
        self.path_steps = path_steps(shape, guesses)
        self.reply_max = max(m.max_tokens for m in roles.mentors)
        self.answer_max = max(i.max_tokens for i in roles.interns)
        self.intern_out = INTERN_OUT_TOKENS.get(roles.intern_prompt, INTERN_OUT_TOKENS["brief_reasoning"])

    def tokens_in(self, group: Group, spec: ModelSpec, scenario: str) -> float:
        images = self.sizes.images * (self.image_tokens if self.image_tokens is not None
                                      else IMAGE_TOKENS.get(spec.backend, 0))
        if group.role == "judge":
            answer = self.answer_max if scenario == "high" else self.sizes.answer_chars / CHARS_PER_TOKEN
            return self.sizes.judge_chars / CHARS_PER_TOKEN + answer
        chars = self.sizes.mentor_chars if group.role == "mentor" else self.sizes.intern_chars
        prefix = (group.prefix_replies * self.reply_max if scenario == "high"
                  else group.prefix_steps * self.step_tokens)
        return chars / CHARS_PER_TOKEN + images + prefix

    def tokens_out(self, group: Group, spec: ModelSpec, scenario: str) -> float:
        if scenario == "high":
            return spec.max_tokens
        if group.role == "mentor":  # the whole rest of the path and the final-answer line
            wanted = max(1, self.path_steps - group.prefix_steps) * self.step_tokens + FINAL_LINE_TOKENS
        else:
            wanted = self.intern_out if group.role == "intern" else JUDGE_OUT_TOKENS
        return min(spec.max_tokens, wanted)


def _shares(role: str, roles: RoleSpecs) -> list[tuple[ModelSpec, float]]:
    if role == "judge":
        return [] if roles.judge is None else [(roles.judge, 1.0)]
    if role == "intern":
        return [(s, 1.0 / len(roles.interns)) for s in roles.interns]
    if roles.vanilla_mentor is not None:
        return [(s, 1.0 if s.name == roles.vanilla_mentor else 0.0) for s in roles.mentors]
    return [(s, 1.0 / len(roles.mentors)) for s in roles.mentors]


def _zero() -> dict:
    return {"calls": 0.0, "tokens_in": 0.0, "tokens_out": 0.0, "cost_usd": 0.0}


def _rounded(row: Mapping[str, Any]) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out[k] = _rounded(v)
        elif isinstance(v, float):
            out[k] = round(v, 6) if k == "cost_usd" else round(v, 2)
        else:
            out[k] = v
    return out


# -- the printed table ---------------------------------------------------------------------------


def format_table(result: dict) -> str:
    s = result["search"]
    economy = f"on (wave {s['wave']})" if s["economy"] else "off"
    head = (f"search estimate: {result['cases']} case(s), {s['method']}, max_depth {s['max_depth']}, "
            f"max_retries {s['max_retries']}, {s['mentors']} mentor(s), {s['interns']} intern(s) x "
            f"{s['temperatures']} temperature(s), economy {economy}")
    if s["method"] == "vanilla":
        head += f", score_paths {'on' if s['score_paths'] else 'off'}"
    columns = ("role/model", "calls low / exp / high", "tokens in exp / high", "tokens out exp / high",
               "$ low / exp / high")
    table = [columns] + [_cells(key, row) for key, row in result["rows"].items()]
    table.append(_cells("total", result["total"]))
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]

    def fmt(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    set_aside = result.get("set_aside")
    out = [head, f"input: {result.get('source', '?')}"
           + (f"; {set_aside} case(s) set aside (bad record or image: no calls)" if set_aside else ""),
           fmt(table[0])] + [fmt(r) for r in table[1:-1]] + ["-" * len(fmt(table[0])), fmt(table[-1])]
    a = result["assumptions"]
    out.append(
        f"assumed: tokens = chars/{CHARS_PER_TOKEN}; image tokens {_image_note(a['image_tokens'])}; a step "
        f"{a['step_tokens']} tokens; "
        f"intern reply {a['intern_out_tokens']}, judge reply {a['judge_out_tokens']} tokens; expected: "
        + ", ".join(f"{k}={v}" for k, v in a["expected"].items() if v is not None)
        + "; low prices input as provider-cached; high: every call writes max_tokens; the call cache is "
        "empty (replayed calls cost 0); 'local' = no price in the model spec")
    return "\n".join(out)


def _cells(key: str, row: dict) -> tuple[str, ...]:
    lo, ex, hi = (row[s] for s in SCENARIOS)
    if row.get("local"):
        dollars = "local"
    else:
        dollars = " / ".join(f"{c['cost_usd']:.4f}" if c["cost_usd"] < 100 else f"{c['cost_usd']:.0f}"
                             for c in (lo, ex, hi))
    return (key, " / ".join(_n(c["calls"]) for c in (lo, ex, hi)),
            f"{_n(ex['tokens_in'])} / {_n(hi['tokens_in'])}",
            f"{_n(ex['tokens_out'])} / {_n(hi['tokens_out'])}", dollars)


def _image_note(tokens) -> str:
    if isinstance(tokens, dict):
        return f"{tokens['openai']} per API image, {tokens['hf']} per in-process image"
    return f"{tokens} per image"


def _n(x: float) -> str:
    """A count in at most five characters: 37, 12.4k, 3.1M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= limit:
            return f"{x / limit:.1f}{suffix}"
    return f"{x:.0f}" if x >= 100 or abs(x - round(x)) < 0.05 else f"{x:.1f}"
