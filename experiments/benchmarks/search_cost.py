"""What a search pays, as billed, with the economy mode on and off, on the same cases.

    python experiments/benchmarks/search_cost.py [--cases 48] [--wave 2]

Three arms over the same cases, each against a fresh local OpenAI-compatible server that reports
cached prompt tokens the way providers do (the longest prefix shared with an earlier prompt, in
64-token blocks) and whose interns answer in several wordings (exact, other case or punctuation,
paraphrased) that the judge accepts when they contain the correct answer
(chiron.testing.roleplay.respond_varied):

- `brief`: every call of the paper's schedule, interns asked for brief reasoning (chiron's intern
  prompt before the paper's Fig. 14 became the default);
- `paper`: every call of the paper's schedule, interns asked for the final answer only (Fig. 14);
- `economy`: the paper's prompt with `search.economy=true` (rule verdicts and pruning).

Prints per arm and role: calls, input / cached input / output tokens and billed cost per case
(prices below, USD per million tokens), the calls the economy saved (by rule, by pruning), and
whether every case's decisions (status, selected mentors, path scores, final path) are identical
between `paper` and `economy`. Each arm has its own call cache, so no arm replays another's calls.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_throughput import INTERNS, JUDGE, MENTORS, make_cases, run_cli  # noqa: E402

from chiron.testing.fake_openai import running_server  # noqa: E402
from chiron.utils.jsonl import read_jsonl  # noqa: E402

# USD per million tokens (input, cached input, output): mentors priced like GPT-4o, interns like a
# small hosted VLM, the judge like DeepSeek-V3 (see conf/mentors/paper.yaml, conf/judge/deepseek_v3.yaml).
PRICES = {"mentor": (2.5, 1.25, 10.0), "intern": (0.2, 0.1, 0.2), "judge": (0.27, 0.07, 1.10)}
ARMS = {"brief": ("brief_reasoning", False), "paper": ("final_answer", False), "economy": ("final_answer", True)}
DECISIONS = ("status", "selected_mentors", "path_scores", "reasoning")


def overrides(base_url: str, out: Path, prompt: str, economy: bool, wave: int) -> list[str]:
    def spec(name: str, role: str) -> str:
        price_in, price_cached, price_out = PRICES[role]
        return (f"{{name:{name},backend:openai,model:{name},base_url:'{base_url}',price_in_per_mtok:{price_in},"
                f"price_cached_in_per_mtok:{price_cached},price_out_per_mtok:{price_out}}}")

    judge_in, judge_cached, judge_out = PRICES["judge"]
    # judge.spec is a fixed mapping in its config: its prices are set key by key
    return ["task=search", "mentors=openai_compatible", "interns=openai_compatible", "judge=openai_compatible",
            f"mentors.models=[{','.join(spec(m, 'mentor') for m in MENTORS)}]",
            f"interns.models=[{','.join(spec(m, 'intern') for m in INTERNS)}]",
            f"judge.spec={{name:{JUDGE},backend:openai,model:{JUDGE},base_url:'{base_url}'}}",
            f"++judge.spec.price_in_per_mtok={judge_in}", f"++judge.spec.price_cached_in_per_mtok={judge_cached}",
            f"++judge.spec.price_out_per_mtok={judge_out}",
            f"interns.prompt={prompt}", f"search.economy={str(economy).lower()}", f"search.economy_wave={wave}",
            f"paths.output_dir={out}", "progress=false", "logger=none", "search.max_cases_in_flight=48"]


def run_arm(name: str, data: tuple[str, str], tmp: Path, wave: int) -> dict:
    prompt, economy = ARMS[name]
    with running_server(responder="chiron.testing.roleplay:respond_varied", prefix_cache=True) as server:
        run_cli(overrides(server.base_url, tmp / name, prompt, economy, wave), data, name)
        sent = server.stats()["total"]
    folder = tmp / name / "search" / "runs" / name / "search"
    summary = json.loads((folder / "summary.json").read_text())
    records = {r["rid"]: r for r in read_jsonl(str(folder / "records.jsonl"))}
    failed = {r["rid"]: r for r in read_jsonl(str(folder / "failed.jsonl"))}
    by_role: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    for key, usage in summary["usage_all_runs"].items():
        for field, value in usage.items():
            by_role[key.split("/")[0]][field] += value
    return {"sent": sent, "by_role": by_role, "records": records, "failed": failed}


def decisions(arm: dict) -> dict:
    out = {rid: tuple(json.dumps(r.get(k)) for k in DECISIONS) for rid, r in arm["records"].items()}
    out.update({rid: ("failed", f.get("kind")) for rid, f in arm["failed"].items()})
    return out


def hindsight_bound(arm: dict) -> tuple[int, int]:
    """(intern runs made, the fewest any exact pruning could make): even knowing every run's outcome
    and choosing the best order, a full-score depth needs every run of its full candidates and one
    miss of each other; an all-zero depth every run; a selection every run of the best and tied
    candidates, and of each other enough misses to bring its best case below the best score."""
    made = fewest = 0
    for record in arm["records"].values():
        for attempt in record["attempts"]:
            for depth in attempt["depths"]:
                scores = [c["score"] for c in depth["candidates"] if c["steps"]]
                if not scores:
                    continue
                runs = len(next(c["interns"] for c in depth["candidates"] if c["steps"]))
                best = max(scores)
                made += runs * len(scores)
                for score in scores:
                    if best == 1.0:
                        fewest += runs if score == 1.0 else 1
                    elif best == 0.0 or score == best:
                        fewest += runs
                    else:
                        fewest += min(runs, math.floor(runs * (1 - best)) + 1)
    return made, fewest


def report(results: dict, n: int) -> None:
    fields = ("calls", "tokens_in", "tokens_in_cached", "tokens_out", "cost_usd")
    print(f"search cost per case ({n} cases; prices in USD per million tokens: {PRICES})")
    print(f"  {'arm':8} {'role':7} " + " ".join(f"{f:>16}" for f in fields) + f" {'saved: rule':>12} {'pruning':>8}")
    for name, arm in results.items():
        for role in ("mentor", "intern", "judge"):
            u = arm["by_role"][role]
            cells = " ".join(f"{u[f] / n:>16.6f}" if f == "cost_usd" else f"{u[f] / n:>16.1f}" for f in fields)
            print(f"  {name:8} {role:7} {cells} {u['saved_by_rule'] / n:>12.2f} {u['saved_by_pruning'] / n:>8.2f}")
        total = {f: sum(arm["by_role"][r][f] for r in arm["by_role"]) / n for f in fields}
        print(f"  {name:8} {'all':7} " + " ".join(f"{total[f]:>16.6f}" if f == "cost_usd" else f"{total[f]:>16.1f}"
                                              for f in fields) + f"   (requests the server saw: {arm['sent']})")
    paper, economy = results["paper"], results["economy"]
    same = decisions(paper) == decisions(economy)
    differ = sorted(rid for rid in decisions(paper) if decisions(paper)[rid] != decisions(economy).get(rid))
    calls = {k: sum(r["calls"] for r in results[k]["by_role"].values()) for k in results}
    cost = {k: sum(r["cost_usd"] for r in results[k]["by_role"].values()) for k in results}
    print(f"  identical decisions (status, selected mentors, path scores, final path), paper vs economy: "
          f"{'yes, every case' if same else f'NO: {differ[:10]}'}")
    print(f"  economy vs paper: {calls['economy'] / calls['paper']:.2f}x the calls, {cost['economy'] / cost['paper']:.2f}x "
          f"the billed cost; paper's Fig. 14 prompt vs brief reasoning: {cost['paper'] / cost['brief']:.2f}x the cost, "
          f"{results['paper']['by_role']['intern']['tokens_out'] / max(1, results['brief']['by_role']['intern']['tokens_out']):.2f}x "
          "the intern output tokens")
    made, fewest = hindsight_bound(paper)
    saved = paper["by_role"]["intern"]["calls"] - economy["by_role"]["intern"]["calls"]
    print(f"  pruning skipped {saved / paper['by_role']['intern']['calls']:.0%} of the intern runs; knowing every "
          f"outcome in advance, an exact pruning could skip at most {1 - fewest / made:.0%} ({made} runs, "
          f"at least {fewest} needed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=48)
    parser.add_argument("--wave", type=int, default=2, help="search.economy_wave")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_cases(args.cases, Path(tmp))
        results = {name: run_arm(name, data, Path(tmp), args.wave) for name in ARMS}
        report(results, args.cases)


if __name__ == "__main__":
    main()
