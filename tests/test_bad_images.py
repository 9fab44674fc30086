"""Bad images never end a job: one check (chiron.llm.images.check_image) with a category, and
every job that meets one (search input, eval over an API model and over the hf backend, the mix,
MMRP Parts 2/3) sets it aside with its reason, counts it and finishes the rest."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import warnings
from pathlib import Path

import pytest
from PIL import Image

from chiron.llm import images as img_mod
from chiron.llm.images import BadImage, check_image, configure_images, image_data_url, image_policy, load_rgb

# name -> the category check_image must give it; "good*" are fine, "large.png" only under the low limit.
MATRIX = {"text.png": "not_an_image", "empty.png": "empty", "bomb.png": "too_many_pixels",
          "truncated.jpg": "undecodable", "missing.png": "missing"}
LOW_LIMIT = 20_000  # pixels: the 64x64 good images pass, the 200x200 "large.png" does not


@pytest.fixture(autouse=True)
def image_policy_reset():
    """configure_images is process-wide: every test starts and ends with the default policy."""
    configure_images()
    yield
    configure_images()


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    import numpy as np

    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype("uint8"))


@pytest.fixture(scope="session")
def bomb_png(tmp_path_factory) -> Path:
    """A mode "1" PNG of 14000x14000 zeros: ~24 kB on disk, 196 M pixels (> 2x PIL's limit)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (14000, 14000)).save(path)
    return path


def make_images(folder: Path, bomb: Path) -> dict[str, Path]:
    """The bad-image matrix plus good and large images, all in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "text.png").write_text("this is a text file, not a PNG\n")
    (folder / "empty.png").write_bytes(b"")
    shutil.copyfile(bomb, folder / "bomb.png")
    _noise((128, 128)).save(folder / "full.jpg", quality=90)  # 16384 pixels: under LOW_LIMIT too
    data = (folder / "full.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    _noise((64, 64), 1).save(folder / "good.png")
    _noise((64, 64), 2).save(folder / "good.jpg", quality=90)
    _noise((200, 200), 3).save(folder / "large.png")
    return {p.name: p for p in folder.iterdir()} | {"missing.png": folder / "missing.png"}


@pytest.fixture
def images(tmp_path, bomb_png) -> dict[str, Path]:
    return make_images(tmp_path / "images", bomb_png)


# -- the check itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_check_image_names_the_category_and_the_file(images, name):
    with pytest.raises(BadImage) as err:
        check_image(str(images[name]))
    assert err.value.category == MATRIX[name]
    assert isinstance(err.value, ValueError) and str(images[name]) in str(err.value)


def test_good_images_pass_and_a_truncated_jpeg_is_caught_where_verify_was_not(images):
    for name in ("good.png", "good.jpg", "full.jpg", "large.png"):
        check_image(str(images[name]))
    with Image.open(images["truncated.jpg"]) as im:
        im.verify()  # the old check: passes the truncated file
    with pytest.raises(BadImage, match="truncated"):
        check_image(str(images["truncated.jpg"]))


def test_the_bomb_is_refused_from_its_header_without_decoding(images, monkeypatch):
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning escapes either
        with pytest.raises(BadImage) as err:
            check_image(str(images["bomb.png"]))
    assert err.value.category == "too_many_pixels" and decoded == []


def test_max_pixels_sets_the_limit_both_ways(images):
    configure_images(max_pixels=LOW_LIMIT)
    assert image_policy().max_pixels == LOW_LIMIT
    check_image(str(images["good.png"]))  # 4096 pixels
    with pytest.raises(BadImage) as err:
        check_image(str(images["large.png"]))  # 40000 pixels
    assert err.value.category == "too_many_pixels" and "200x200" in str(err.value)
    # a limit above PIL's own lets the bomb through (PIL is told too), and resetting restores PIL's
    pil_default = Image.MAX_IMAGE_PIXELS
    configure_images(max_pixels=250_000_000)
    check_image(str(images["bomb.png"]))
    configure_images()
    assert Image.MAX_IMAGE_PIXELS == pil_default
    with pytest.raises(BadImage):
        check_image(str(images["bomb.png"]))


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_load_rgb_and_data_urls_raise_bad_image_not_pil_errors(images, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BadImage):
            load_rgb(str(images[name]))
        with pytest.raises(BadImage):
            image_data_url(str(images[name]), 64)
    assert load_rgb(str(images["good.jpg"]), 32).size == (32, 32)
    assert image_data_url(str(images["good.png"]), 64).startswith("data:image/png;base64,")


def test_a_file_is_checked_once_per_process_and_again_once_it_changes(images, tmp_path):
    path = tmp_path / "changing.png"
    _noise((32, 32), 7).save(path)
    before = img_mod._check_cached.cache_info()
    check_image(str(path))
    check_image(str(path))
    after = img_mod._check_cached.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    path.write_text("now a text file")  # another size and mtime: a new memo key
    with pytest.raises(BadImage) as err:
        check_image(str(path))
    assert err.value.category == "not_an_image"
    # the bad verdict is memoized as well
    hits = img_mod._check_cached.cache_info().hits
    with pytest.raises(BadImage):
        check_image(str(path))
    assert img_mod._check_cached.cache_info().hits == hits + 1


# -- the search input -------------------------------------------------------------------------


def _case_line(rid: str, refs: list[str]) -> str:
    return json.dumps({"rid": rid, "images": refs, "messages": [
        {"role": "user", "content": "**Question:** What is shown?"},
        {"role": "assistant", "content": "**Correct Answer:** A lesion"}]})


def test_search_input_sets_bad_image_cases_aside_as_bad_image(images, tmp_path):
    from chiron.search.case import BadRecord, Case, read_cases
    from chiron.search.records import bad_record_failure

    configure_images(max_pixels=LOW_LIMIT)
    names = [*sorted(MATRIX), "large.png"]
    lines = [_case_line("good", ["good.png", "good.jpg"])] + [_case_line(n, ["good.png", n]) for n in names]
    lines.append(json.dumps({"rid": "nomsg", "images": ["good.png"]}))
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = {(r.rid): r for r in read_cases(str(path), str(images["good.png"].parent))}
    assert isinstance(out["good"], Case)
    for name in names:
        bad = out[name]
        assert isinstance(bad, BadRecord) and bad.kind == "bad_image", bad
        row = bad_record_failure(bad)
        assert row["kind"] == "bad_image" and row["retryable"] is False and name in row["error"]
    assert out["nomsg"].kind == "bad_record" and bad_record_failure(out["nomsg"])["kind"] == "bad_record"


# -- eval: an API model and the hf backend ---------------------------------------------------------


def make_reference_benchmark(root: Path, bomb: Path) -> dict[str, str]:
    """A `reference` eval_data.json whose items use every kind of bad image; item id -> image name."""
    make_images(root / "images", bomb)
    _noise((64, 64), 5).save(root.parent / "outside.png")  # a valid image outside the root
    names = {"1": "good.png", "2": "text.png", "3": "empty.png", "4": "bomb.png", "5": "truncated.jpg",
             "6": "missing.png", "7": "good.jpg", "8": "large.png", "9": "../outside.png"}
    rows = [{"id": int(i), "img_name": [n if n.startswith("..") else f"images/{n}"],
             "question": f"Is finding {i} present?", "answer": "Yes.", "answer_type": "CLOSED"}
            for i, n in names.items()]
    (root / "eval_data.json").write_text(json.dumps(rows))
    return names


GOOD_IDS = {"1", "7"}
BAD_CATEGORIES = {"2": "not_an_image", "3": "empty", "4": "too_many_pixels", "5": "undecodable", "6": "missing",
                  "8": "too_many_pixels", "9": "outside_root"}


def _eval_cfg(tmp_path: Path, root: Path, run: str, *overrides: str):
    from conftest import compose_config

    return compose_config(["task=eval", "benchmarks=[reference]", f"eval.roots.reference={root}",
                           "eval.judge_open=false", "logger=none", "progress=false", f"images.max_pixels={LOW_LIMIT}",
                           f"paths.output_dir={tmp_path / 'out'}", f"+paths.run_dir={tmp_path / run}", *overrides])


def _predictions(tmp_path: Path, run: str) -> tuple[dict, dict]:
    out = tmp_path / run / "eval"
    rows = {r["id"]: r for r in map(json.loads, (out / "reference" / "predictions.jsonl").read_text().splitlines())}
    return rows, json.loads((out / "metrics.json").read_text())["reference"]


def _assert_bad_items_set_aside(rows: dict, metrics: dict) -> None:
    assert set(rows) == GOOD_IDS | set(BAD_CATEGORIES)
    for item_id, category in BAD_CATEGORIES.items():
        row = rows[item_id]
        assert row["status"] == "bad_image" and row["reply"] is None, row
        assert row["bad_image"]["category"] == category and row["error"]
    assert all(rows[i]["status"] != "bad_image" and rows[i]["reply"] is not None for i in GOOD_IDS)
    assert metrics["n"] == 9 and metrics["bad_images"] == 7  # in the denominator, counted wrong
    assert metrics["statuses"]["bad_image"] == 7 and metrics["generation_failures"] == 0
    assert metrics["bad_image_categories"] == {"not_an_image": 1, "empty": 1, "too_many_pixels": 2,
                                               "undecodable": 1, "missing": 1, "outside_root": 1}
    assert metrics["accuracy"] <= 2 / 9


def test_eval_of_an_api_model_sets_bad_images_aside_without_sending_them(tmp_path, bomb_png):
    from chiron.main import run_task
    from chiron.testing.fake_openai import running_server

    root = tmp_path / "reference"
    make_reference_benchmark(root, bomb_png)
    with running_server() as server:
        generator = (f"eval.generator={{name:fake-vlm,backend:openai,model:fake-vlm,base_url:'{server.base_url}',"
                     f"max_retries:1,timeout_s:10,image_max_side:64}}")
        run_task(_eval_cfg(tmp_path, root, "api", generator))
        stats = server.stats()
        rows, metrics = _predictions(tmp_path, "api")
        _assert_bad_items_set_aside(rows, metrics)
        # only the two good items were asked, each with its one image: no request carried a bad one
        assert stats["total"] == 2 and stats["images_seen"] == stats["data_url_images"] == 2
        report = (tmp_path / "api" / "eval" / "paper_comparison.md").read_text()
        assert "bad images" in report and "| reference | 9 |" in report and "| 0 | 7 |" in report

        run_task(_eval_cfg(tmp_path, root, "api", generator))  # a rerun retries nothing
        assert server.stats()["total"] == 2
    again, _ = _predictions(tmp_path, "api")
    assert again == rows
    lines = (tmp_path / "api" / "eval" / "reference" / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 9


def test_eval_on_the_hf_backend_sets_bad_images_aside(tmp_path, bomb_png):
    from chiron.main import run_task

    root = tmp_path / "reference"
    make_reference_benchmark(root, bomb_png)
    cfg = _eval_cfg(tmp_path, root, "hf", "model=tiny", f"paths.tiny_model_dir={tmp_path / 'tiny'}",
                    "eval.max_tokens=4", "eval.device=cpu", "eval.batch_size=2")
    run_task(cfg)
    rows, metrics = _predictions(tmp_path, "hf")
    _assert_bad_items_set_aside(rows, metrics)
    usage = json.loads((tmp_path / "hf" / "eval" / "usage.json").read_text())
    assert usage["total"]["calls"] == 2  # the model generated for the good items only


def test_runner_marks_a_backend_bad_image_refusal_bad_image(tmp_path):
    """An image that turns bad after the check is refused by the backend (kind bad_image): the item is
    set aside the same way, not counted as a generation failure, not retried."""
    from scripted import ScriptedBackend

    from chiron.eval.items import EvalItem
    from chiron.eval.runner import EvalRunner
    from chiron.llm.cache import CallCache
    from chiron.llm.client import CachedModel
    from chiron.llm.ledger import Ledger
    from chiron.llm.spec import ModelSpec
    from chiron.llm.types import BackendError

    good = tmp_path / "ok.png"
    _noise((16, 16)).save(good)

    def refuse(request):
        raise BackendError("image went bad", kind="bad_image")

    backend = ScriptedBackend("model", refuse)
    model = CachedModel(ModelSpec(name="m", backend="openai", model="m"), backend, CallCache(str(tmp_path / "c")),
                        Ledger(), "model")
    item = EvalItem(id="x", benchmark="t", question="Is it?", answer="yes", kind="yes_no", images=(str(good),))
    runner = EvalRunner(model=model, progress=False)
    (row,) = asyncio.run(runner.run("t", [item], str(tmp_path / "out")))
    assert row["status"] == "bad_image" and backend.calls == 1
    asyncio.run(runner.run("t", [item], str(tmp_path / "out")))
    assert backend.calls == 1


# -- MMRP Parts 2 and 3 ---------------------------------------------------------------------------


def _corpus(tmp_path: Path, images: dict[str, Path], groups: list[list[str]]):
    from chiron.data.corpus import read_corpus

    line = {"id": "c1", "title": "t", "annotated": True, "discussion": "d",
            "image_groups": [{"modality": "CT", "caption": "A finding.", "images": [{"path": n} for n in names]}
                             for names in groups]}
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (case,) = list(read_corpus(str(path), str(images["good.png"].parent)))
    return case


def test_part2_reports_bad_images_with_check_image_categories(tmp_path, images):
    from chiron.mmrp import part2

    configure_images(max_pixels=LOW_LIMIT)
    names = [*sorted(MATRIX), "large.png"]
    case = _corpus(tmp_path, images, [names])
    result = part2.align_case(case, part2.Part2Settings(min_side=8))
    assert result.unreadable == names and result.drops["unreadable image"] == len(names)
    assert result.unreadable_why == {**MATRIX, "large.png": "too_many_pixels"}


def test_part3_says_all_images_unreadable(tmp_path, images):
    from chiron.mmrp import part3

    case = _corpus(tmp_path, images, [["text.png", "truncated.jpg"], ["empty.png"]])
    outcome = asyncio.run(part3.write_case_vqa(case, "doctor_to_doctor", None, part3.Part3Settings()))
    assert (outcome.status, outcome.reason) == ("skipped", "all images unreadable")
    assert outcome.info["unreadable_why"] == {"text.png": "not_an_image", "truncated.jpg": "undecodable",
                                              "empty.png": "empty"}


# -- the mix ------------------------------------------------------------------------------------


def _sample(i: int, images: list[str], source: str = "src"):
    from chiron.data.sample import Sample

    messages = [{"role": "user", "content": "<image>" * len(images) + "\nWhat is shown?"},
                {"role": "assistant", "content": "A lesion."}]
    return Sample(id=f"{source}/{i}", source=source, messages=messages, images=images)


def test_mix_drops_and_counts_bad_samples_and_still_draws_its_count(images):
    from chiron.data_mix import draw
    from chiron.data_mix.draw import ImageScreen, build_mix
    from chiron.data_mix.export import mix_manifest
    from chiron.data_mix.plan import plan_from_config

    configure_images(max_pixels=LOW_LIMIT)
    good = [str(images["good.png"]), str(images["good.jpg"])]
    bad = [str(images[n]) for n in [*sorted(MATRIX), "large.png"]]
    pool = [_sample(i, [good[i % 2]]) for i in range(20)] + [_sample(20 + k, [p]) for k, p in enumerate(bad)]
    text_only = [_sample(i, [], "text") for i in range(5)]
    plan = plan_from_config({"name": "t", "seed": 0, "formats": ["ours"],
                             "stages": {"stage1": {"src": 10, "text": 2}, "stage2": {"src": 60}}})
    sources = {"src": pool, "text": text_only}
    screen = ImageScreen()
    stages = build_mix(plan, sources, screen)
    assert len(stages["stage1"]) == 12 and len(stages["stage2"]) == 60  # the counts are still met
    drawn_images = {p for stage in stages.values() for s in stage for p in s.images}
    assert drawn_images <= set(good)
    manifest = mix_manifest(plan, sources, stages, screen)
    stage2 = manifest["stages"]["stage2"]["sources"]["src"]
    assert stage2["dropped_bad_image"] == len(bad) and stage2["drawn"] == 60  # full copies: every one checked
    summary = manifest["bad_images"]["src"]
    assert summary["dropped_bad_image"] == len(bad)
    assert summary["by_category"] == {"not_an_image": 1, "empty": 1, "too_many_pixels": 2, "undecodable": 1,
                                      "missing": 1}
    assert manifest["bad_images"]["text"] == {"dropped_bad_image": 0, "samples_checked": 0, "by_category": {},
                                              "examples": []}
    # with no bad image the screened draw is the unscreened one, sample for sample
    clean = {"src": pool[:20], "text": text_only}
    assert [s.id for s in build_mix(plan, clean, ImageScreen())["stage1"]] == \
        [s.id for s in build_mix(plan, clean)["stage1"]]
    # a draw below the source's size checks only what it picks (and replacements)
    screen = ImageScreen()
    picked = draw(pool, 5, 0, "stage1/src", screen.for_key("stage1/src"))
    assert len(picked) == 5 and screen.checked["src"] < len(pool)


def test_mix_job_drops_bad_images_and_outside_root_part3_records(tmp_path, images, monkeypatch):
    """task=build_mix in process: Part 2 samples with bad images, Part 3 records whose image leaves
    mix_inputs.part3_image_root; the job finishes and the manifest counts both."""
    from conftest import compose_config
    from omegaconf import open_dict

    from chiron.data_mix import job

    part2 = tmp_path / "part2.jsonl"
    good = str(images["good.png"])
    rows = [_sample(i, [good], "mmrp_part2").to_json() for i in range(6)]
    rows += [_sample(6 + k, [str(images[n])], "mmrp_part2").to_json() for k, n in enumerate(["text.png", "bomb.png"])]
    part2.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = tmp_path / "records.jsonl"
    recs = [{"rid": f"r{i}", "method": "mics", "status": "full_score", "question": "Q?", "scenario": None,
             "images": [ref], "reasoning": "### Step 1: look.\n### The final answer is: yes", "path_scores": [1.0],
             "final_answer": "yes", "steps": ["look."], "selected_mentors": ["m"], "mentor_scores": []}
            for i, ref in enumerate(["good.png", "good.jpg", "../outside.png", "good.png"])]
    records.write_text("".join(json.dumps(r) + "\n" for r in recs))
    cfg = compose_config(["task=build_mix", "qc=off", "logger=none", f"+paths.run_dir={tmp_path / 'run'}",
                          f"mix_inputs.part2={part2}", f"mix_inputs.part3_records={records}",
                          f"mix_inputs.part3_image_root={images['good.png'].parent}"])
    with open_dict(cfg):
        cfg.data_mix.stages = {"stage1": {"mmrp_part2": 4}, "stage2": {"mmrp_part3": 5}}
        cfg.data_mix.scale = 1.0
    written = job.run(cfg)
    assert written["stages"]["stage1"]["total"] == 4 and written["stages"]["stage2"]["total"] == 5
    bad = written["bad_images"]
    assert bad["mmrp_part3"]["dropped_bad_image"] == 1 and bad["mmrp_part3"]["by_category"] == {"outside_root": 1}
    assert written["stages"]["stage2"]["sources"]["mmrp_part3"]["dropped_bad_image"] == 1
    assert written["stages"]["stage2"]["sources"]["mmrp_part3"]["source_size"] == 3
    mix = tmp_path / "run" / "mix"
    drawn = [json.loads(line) for f in ("stage1.jsonl", "stage2.jsonl") for line in (mix / f).read_text().splitlines()]
    assert all(os.path.basename(p) in ("good.png", "good.jpg") for s in drawn for p in s["images"])
    manifest = json.loads((mix / "manifest.json").read_text())
    assert manifest["bad_images"] == bad
