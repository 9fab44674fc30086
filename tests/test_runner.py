"""The case runner: output files, quarantined bad records, resume without re-paying calls."""

import asyncio
import functools
import json
import os

from PIL import Image

from chiron.search.case import read_cases
from chiron.search.mics import SearchSettings, mics_search
from chiron.search.runner import CaseRunner
from chiron.utils.jsonl import read_jsonl
from scripted import Script

TABLE = {"A1": 2, "B1": 3, "C1": 1, "B2": 4}


def write_cases(tmp_path, n=6, extra_lines=()):
    root = tmp_path / "images"
    (root / "ok").mkdir(parents=True)
    Image.new("RGB", (16, 16), "white").save(root / "ok" / "0.png")
    (root / "broken.png").write_bytes(b"not an image at all")
    lines = []
    for i in range(n):
        lines.append(json.dumps({
            "rid": f"case{i}", "images": ["ok/0.png"], "presentation": "pain", "age_label": "50 years",
            "gender_label": "Male", "caption": ["According to the <image>\n, a mass."],
            "messages": [{"role": "user", "content": f"**Question:** Q{i}?"},
                         {"role": "assistant", "content": "**Correct Answer:** right"}]}))
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines + list(extra_lines)) + "\n")
    return str(path), str(root)


def runner(script, out_dir, settings=SearchSettings(max_depth=3)):
    fn = functools.partial(mics_search, roles=script.roles, settings=settings)
    return CaseRunner(fn, "mics", out_dir, script.ledger, max_cases_in_flight=4, progress=False)


def test_outputs_every_file_with_rid_on_each_line(tmp_path):
    path, root = write_cases(tmp_path)
    s = Script(tmp_path / "s", table=TABLE)
    out = str(tmp_path / "run" / "search")
    summary = asyncio.run(runner(s, out).run(read_cases(path, root)))
    records = list(read_jsonl(os.path.join(out, "records.jsonl")))
    assert summary["cases_ok"] == 6 and len(records) == 6
    rec = records[0]
    assert rec["status"] == "full_score" and rec["selected_mentors"] == ["B", "B"]
    assert rec["path_scores"] == [0.75, 1.0]
    assert rec["usage"]["mentor/B"]["calls"] >= 1 and "intern/intern0" in rec["usage"]
    depth1 = rec["attempts"][0]["depths"][0]
    assert {c["mentor"] for c in depth1["candidates"]} == {"A", "B", "C"}
    assert all({"intern", "temperature", "answer", "correct"} <= set(r) for r in depth1["candidates"][0]["interns"])
    ref = list(read_jsonl(os.path.join(out, "reference.jsonl")))
    assert len(ref) == 6 and set(ref[0]) == {"rid", "images", "question", "gt_answer", "reasoning", "scores",
                                             "final_depth", "generated_by", "search_id"}
    assert ref[0]["search_id"] == "1" and ref[0]["final_depth"] == "2"
    assert ref[0]["reasoning"].startswith("Let's think about how to solve this problem clearly")
    assert "### The final answer is: right" in ref[0]["reasoning"]
    saved = json.load(open(os.path.join(out, "summary.json")))
    assert saved["cases_ok"] == 6 and saved["usage_all_runs"]["mentor/A"]["calls"] == 12  # 2 depths x 6 cases


def test_bad_records_are_quarantined_and_the_rest_run(tmp_path):
    bad = [
        "{not json",
        json.dumps({"rid": "nomsg", "images": ["ok/0.png"]}),
        json.dumps({"rid": "noimg", "images": ["missing.png"], "messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        json.dumps({"rid": "broken", "images": ["broken.png"], "messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
    ]
    path, root = write_cases(tmp_path, n=3, extra_lines=bad)
    s = Script(tmp_path / "s", table=TABLE)
    out = str(tmp_path / "run" / "search")
    summary = asyncio.run(runner(s, out).run(read_cases(path, root)))
    # records with an unusable image are "bad_image", other broken records "bad_record"; none retryable
    assert summary["cases_ok"] == 3 and summary["failures_by_kind"] == {"bad_record": 2, "bad_image": 2}
    failed = {f["rid"]: f for f in read_jsonl(os.path.join(out, "failed.jsonl"))}
    assert "invalid JSON" in failed["line-4"]["error"]
    assert "messages" in failed["nomsg"]["error"]
    assert "image not found" in failed["noimg"]["error"]
    assert "unreadable image" in failed["broken"]["error"]
    assert failed["noimg"]["kind"] == failed["broken"]["kind"] == "bad_image"
    assert failed["nomsg"]["kind"] == "bad_record"
    assert not any(f["retryable"] for f in failed.values())
    # a rerun writes no duplicate failure lines
    asyncio.run(runner(s, out).run(read_cases(path, root)))
    assert len(list(read_jsonl(os.path.join(out, "failed.jsonl")))) == 4


def test_resume_skips_finished_cases_and_replays_cut_cases_from_cache(tmp_path):
    path, root = write_cases(tmp_path, n=6)
    out = str(tmp_path / "run" / "search")
    s = Script(tmp_path / "s", table=TABLE)
    asyncio.run(runner(s, out).run(read_cases(path, root, limit=3)))
    paid_first = {k: b.calls for k, b in s.mentor_backends.items()}
    # a case that was cut off mid-tree: its calls are in the cache but no line was written
    asyncio.run(mics_search(next(c for c in read_cases(path, root) if c.rid == "case3"), s.roles,
                            SearchSettings(max_depth=3)))
    paid_cut = {k: b.calls for k, b in s.mentor_backends.items()}
    summary = asyncio.run(runner(s, out).run(read_cases(path, root)))
    assert summary["cases_ok"] == 6 and summary["this_run"]["skipped_as_finished"] == 3
    paid_after = {k: b.calls for k, b in s.mentor_backends.items()}
    # 2 new cases paid for, case3 replayed from the cache, the 3 finished ones untouched
    for m in paid_first:
        per_case = paid_first[m] / 3
        assert paid_cut[m] - paid_first[m] == per_case
        assert paid_after[m] - paid_cut[m] == 2 * per_case
    assert len({r["rid"] for r in read_jsonl(os.path.join(out, "records.jsonl"))}) == 6


def test_torn_last_line_is_repaired_before_appending(tmp_path):
    path, root = write_cases(tmp_path, n=2)
    out = tmp_path / "run" / "search"
    out.mkdir(parents=True)
    (out / "records.jsonl").write_text('{"rid": "case0", "status": "full_sc')  # killed mid-write
    s = Script(tmp_path / "s", table=TABLE)
    asyncio.run(runner(s, str(out)).run(read_cases(path, root)))
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["rid"] in {"case0", "case1"} for line in lines)


def test_api_errors_are_retryable_failures(tmp_path):
    from chiron.llm.types import BackendError

    path, root = write_cases(tmp_path, n=2)
    out = str(tmp_path / "run" / "search")
    s = Script(tmp_path / "s", table=TABLE)
    original = s.mentor_backends["A"].reply

    def flaky(request):
        raise BackendError("mentor A: gave up after 7 attempts (RateLimitError 429)")

    s.mentor_backends["A"].reply = flaky
    summary = asyncio.run(runner(s, out).run(read_cases(path, root)))
    assert summary["cases_failed"] == 2 and summary["retryable_failures"] == 2
    s.mentor_backends["A"].reply = original
    summary = asyncio.run(runner(s, out).run(read_cases(path, root)))
    assert summary["cases_ok"] == 2 and summary["cases_failed"] == 0


def test_shards_are_contiguous_chunks(tmp_path):
    path, root = write_cases(tmp_path, n=7)
    shards = [[c.rid for c in read_cases(path, root, shard=i, num_shards=3)] for i in range(3)]
    assert shards == [["case0", "case1", "case2"], ["case3", "case4", "case5"], ["case6"]]
