"""Search throughput against a local OpenAI-compatible server with a fixed latency per call.

    python experiments/benchmarks/search_throughput.py [--cases 48] [--latency 0.2] [--capacity 64]
        [--economy] [--prefix-cache]

Runs `task=search` (the MICS search alone, not the pipeline) with the paper's full call schedule
(`search.economy=false`; `--economy` measures the economy mode instead) and prints, for the search
over `--cases` cases (the demo cases repeated under new ids):
- wall time vs the reference schedule (every call one after another: calls x latency),
- achieved calls/s vs the server's capacity (capacity / latency),
- calls and tokens per case,
- orchestration CPU per call (search + cache + ledger, measured with an instant in-process
  backend so HTTP and the fake server are not counted),
- calls re-paid after a kill -9 and resume (calls still in flight at the kill are not "finished"),
- with `--prefix-cache`: the share of input tokens a provider-side prefix cache would serve (the fake
  server reports it the way OpenAI does, in 64-token blocks; its hashing adds server CPU per call).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.openai_backend import to_openai_messages
from chiron.llm.spec import ModelSpec
from chiron.llm.types import ChatRequest, Completion
from chiron.search.case import read_cases
from chiron.search.mics import SearchSettings, mics_search
from chiron.search.roles import Roles
from chiron.search.runner import CaseRunner
from chiron.testing.fake_openai import running_server
from chiron.testing.roleplay import respond
from chiron.utils.paths import package_path

ROOT = Path(__file__).resolve().parents[2]
MENTORS, INTERNS, JUDGE = ["mentor-a", "mentor-b", "mentor-c"], ["intern-a", "intern-b", "intern-c"], "judge-x"


def make_cases(n: int, folder: Path) -> tuple[str, str]:
    lines = Path(package_path("data/demo/cases.jsonl")).read_text().splitlines()
    demo = [json.loads(line) for line in lines if line.strip()]
    rows = []
    for i in range(n):
        row = dict(demo[i % len(demo)])
        row["rid"] = f"bench-{i:04d}"
        # a distinct question per case, so repeated demo cases do not share cached calls
        row["messages"] = [dict(row["messages"][0]), row["messages"][1]]
        row["messages"][0]["content"] += f" (Case {i}.)"
        rows.append(json.dumps(row))
    path = folder / "cases.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return str(path), package_path("data/demo/images")


def overrides(base_url: str, out: Path, concurrency: int, economy: bool = False) -> list[str]:
    def spec(name):
        return f"{{name:{name},backend:openai,model:{name},base_url:'{base_url}',max_concurrency:{concurrency}}}"

    # task=search: `python run.py` alone now runs the whole pipeline (task=pipeline is the default).
    # `++`: set search.economy whether or not this checkout's search config has the key.
    return ["task=search", "mentors=openai_compatible", "interns=openai_compatible", "judge=openai_compatible",
            f"mentors.models=[{','.join(spec(m) for m in MENTORS)}]",
            f"interns.models=[{','.join(spec(m) for m in INTERNS)}]",
            f"judge.spec={spec(JUDGE)}", f"paths.output_dir={out}", "progress=false",
            "search.max_cases_in_flight=64", f"++search.economy={str(economy).lower()}"]


def run_cli(args: list[str], data: tuple[str, str], run_name: str, wait: bool = True):
    cmd = [sys.executable, str(ROOT / "run.py"), "data=reference", f"data.path={data[0]}",
           f"data.image_root={data[1]}", f"run_name={run_name}", *args]
    if wait:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"run.py {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return done
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def throughput(n_cases: int, latency: float, capacity: int, tmp: Path, economy: bool = False,
               prefix_cache: bool = False) -> dict:
    data = make_cases(n_cases, tmp)
    with running_server(latency_s=latency, capacity=capacity, responder="chiron.testing.roleplay:respond",
                        prefix_cache=prefix_cache) as srv:
        server = psutil.Process(srv.process.pid)
        server0 = sum(server.cpu_times()[:2])
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        run_cli(overrides(srv.base_url, tmp / "tp", capacity, economy), data, "tp")
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = sum(server.cpu_times()[:2]) - server0
        calls = srv.stats()["total"]
    client_cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    summary = json.loads((tmp / "tp" / "search" / "runs" / "tp" / "search" / "summary.json").read_text())
    wall = summary["this_run"]["wall_s"]  # the search itself, not interpreter start-up
    usage = summary["usage_all_runs"].values()
    tokens = sum(u["tokens_in"] + u["tokens_out"] for u in usage)
    return {"cases": n_cases, "ok": summary["cases_ok"], "failed": summary["cases_failed"], "calls": calls,
            "wall_s": wall, "sequential_s": calls * latency, "calls_per_s": calls / wall,
            "capacity_calls_per_s": capacity / latency, "tokens": tokens, "client_cpu_s": client_cpu,
            "server_cpu_s": server_cpu, "tokens_in": sum(u["tokens_in"] for u in usage),
            "tokens_in_cached": sum(u.get("tokens_in_cached", 0) for u in usage)}


def kill_and_resume(n_cases: int, latency: float, capacity: int, tmp: Path, clean_calls: int,
                    economy: bool = False) -> dict:
    """Calls re-paid = calls of the killed + resumed run - calls of a clean run - calls the
    server never answered in full before the kill (those were not finished)."""
    data = make_cases(n_cases, tmp)
    with running_server(latency_s=latency, capacity=capacity, responder="chiron.testing.roleplay:respond") as srv:
        args = overrides(srv.base_url, tmp / "killed", capacity, economy)
        proc = run_cli(args, data, "k", wait=False)
        records = tmp / "killed" / "search" / "runs" / "k" / "search" / "records.jsonl"
        while proc.poll() is None and (not records.exists() or len(records.read_text().splitlines()) < n_cases // 3):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(latency + 0.5)  # let the server finish (or drop) what was in flight
        finished_before = len(records.read_text().splitlines())
        before = srv.stats()
        cached = CallCache(str(tmp / "killed" / "cache" / "calls"))
        finished_calls = len(cached)  # calls whose reply the client had stored when it died
        cached.close()
        run_cli(args, data, "k")
        total = srv.stats()["total"]
    unanswered = before["total"] - before["answered"]
    after = total - before["total"]
    return {"finished_before_kill": finished_before, "calls_before_kill": before["total"],
            "finished_calls": finished_calls, "calls_after": after,
            # client view: the resume should pay exactly the clean run's calls it had not stored
            "repaid_finished": after - (clean_calls - finished_calls),
            # server view: also counts replies that were on the wire when the client died
            "repaid_upper_bound": total - clean_calls - unanswered}


class InstantBackend:
    """The role-play responder in process, no HTTP: isolates our own per-call CPU cost."""

    identity = "instant"

    async def complete(self, request: ChatRequest) -> Completion:
        messages = to_openai_messages(request.messages, 64)
        return Completion(respond(request.model, messages, request.sampling.temperature), 100, 20)

    async def aclose(self) -> None:
        pass


def with_economy(cls, economy: bool, **kwargs):
    """`cls(**kwargs)`, with economy (and the roles' rule verdicts) set where this checkout has them."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs.update({k: economy for k in ("economy", "rule_verdicts") if k in names})
    return cls(**kwargs)


def orchestration_cpu(n_cases: int, tmp: Path, economy: bool = False) -> dict:
    path, root = make_cases(n_cases, tmp)
    ledger, cache, backend = Ledger(), CallCache(str(tmp / "cpu-cache")), InstantBackend()

    def model(name, role):
        return CachedModel(ModelSpec(name=name, backend="openai", model=name), backend, cache, ledger, role)

    roles = with_economy(Roles, economy, mentors=[model(m, "mentor") for m in MENTORS], mentor_temperature=0.7,
                         interns=[model(m, "intern") for m in INTERNS], intern_temperatures=[0.3, 1.2],
                         judge=model(JUDGE, "judge"))
    fn = functools.partial(mics_search, roles=roles, settings=with_economy(SearchSettings, economy))
    runner = CaseRunner(fn, "mics", str(tmp / "cpu" / "search"), ledger, 64, progress=False)
    cpu0 = time.process_time()
    asyncio.run(runner.run(read_cases(path, root)))
    cpu = time.process_time() - cpu0
    calls = ledger.total().calls
    return {"calls": calls, "cpu_s": cpu, "cpu_ms_per_call": 1000 * cpu / calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=48)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--capacity", type=int, default=64)
    parser.add_argument("--economy", action="store_true",
                        help="search.economy=true (default: false, the paper's full call schedule, as measured before)")
    parser.add_argument("--prefix-cache", action="store_true",
                        help="the fake server reports cached prompt tokens (OpenAI style); prints their share")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "a").mkdir(), (tmp / "b").mkdir(), (tmp / "c").mkdir()
        tp = throughput(args.cases, args.latency, args.capacity, tmp / "a", args.economy, args.prefix_cache)
        cpu = orchestration_cpu(args.cases, tmp / "b", args.economy)
        kr = kill_and_resume(args.cases, args.latency, args.capacity, tmp / "c", tp["calls"], args.economy)
    print(f"search throughput (task=search, search.economy={str(args.economy).lower()}): {tp['cases']} cases "
          f"({tp['ok']} ok, {tp['failed']} failed), 3 mentors, 3 interns x 2 temperatures, judge; "
          f"server latency {args.latency:.3f} s, capacity {args.capacity}")
    print(f"  calls                      {tp['calls']}  ({tp['calls'] / tp['cases']:.1f} per case, "
          f"{tp['tokens'] / tp['cases']:.0f} tokens per case)")
    print(f"  wall time                  {tp['wall_s']:.2f} s (search only, interpreter start-up excluded)")
    print(f"  sequential schedule        {tp['sequential_s']:.1f} s  -> speed-up {tp['sequential_s'] / tp['wall_s']:.1f}x")
    print(f"  achieved                   {tp['calls_per_s']:.0f} calls/s of {tp['capacity_calls_per_s']:.0f} "
          f"capacity ({100 * tp['calls_per_s'] / tp['capacity_calls_per_s']:.0f} %)")
    print(f"  orchestration CPU          {cpu['cpu_ms_per_call']:.3f} ms per call "
          f"({cpu['calls']} calls, instant in-process backend)")
    print(f"  client process CPU (HTTP)  {1000 * tp['client_cpu_s'] / tp['calls']:.2f} ms per call "
          f"(openai SDK + JSON with base64 images; whole process incl. start-up)")
    print(f"  fake server CPU            {1000 * tp['server_cpu_s'] / tp['calls']:.2f} ms per call "
          f"(shares this machine's {os.cpu_count()} cores with the client)")
    print(f"  kill -9 after {kr['finished_before_kill']} finished cases ({kr['calls_before_kill']} calls sent, "
          f"{kr['finished_calls']} finished); resume made {kr['calls_after']} more; re-paid finished calls: "
          f"{kr['repaid_finished']} (server-side upper bound incl. replies on the wire: {kr['repaid_upper_bound']})")
    if args.prefix_cache:
        share = tp["tokens_in_cached"] / tp["tokens_in"] if tp["tokens_in"] else 0.0
        print(f"  provider prefix cache      {tp['tokens_in_cached']} of {tp['tokens_in']} input tokens reported "
              f"cached ({100 * share:.0f} %; 64-token blocks, no minimum prompt length)")


if __name__ == "__main__":
    main()
