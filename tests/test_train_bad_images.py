"""Bad images never end a training: their samples are dropped at the length pass, counted and named."""

import json
import logging
import os

import pytest
from PIL import Image

from chiron.data.sample import Sample
from chiron.llm.images import configure_images
from chiron.llm.tiny import load_processor
from chiron.train.datamodule import StageDataUnusable, measure
from chiron.utils.errors import TaskFailed
from chiron.utils.paths import package_path
from test_train_curriculum import _settings


@pytest.fixture
def pixel_limit():
    """configure_images for the test, the process-wide default again afterwards."""
    yield configure_images
    configure_images()


def bad_images(folder, too_large_side):
    """{kind: path} of the matrix: a text file named .png, an empty file, a truncated JPEG, a too-large image."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "notes.png"
    text.write_text("this is a radiology report, not an image\n")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    jpeg = folder / "cut.jpg"  # 10x10: not too large even under a 100-pixel limit; its data cut, not its header
    pattern = Image.new("RGB", (10, 10))
    pattern.putdata([((37 * i) % 256, (91 * i) % 256, (13 * i) % 256) for i in range(100)])
    pattern.save(jpeg, quality=95)
    jpeg.write_bytes(jpeg.read_bytes()[: int(jpeg.stat().st_size * 0.9)])
    large = folder / "large.png"
    Image.new("RGB", (too_large_side, too_large_side), (10, 200, 30)).save(large)
    return {"text_as_png": str(text), "empty": str(empty), "truncated_jpeg": str(jpeg), "too_large": str(large)}


def _sample(sample_id, image):
    return Sample(id=sample_id, source="t", images=[image], messages=[
        {"role": "user", "content": "<image>\nWhat is shown?"}, {"role": "assistant", "content": "A lung."}])


def test_length_pass_drops_and_counts_every_kind_of_bad_image(tmp_path, tiny_tokenizer_path, pixel_limit):
    pixel_limit(max_pixels=100)  # a 20x20 image is too large, a 5x5 one is fine
    good = tmp_path / "good.png"
    Image.new("RGB", (5, 5), (1, 2, 3)).save(good)
    bad = bad_images(tmp_path / "bad", too_large_side=20)
    samples = [_sample("good", str(good))] + [_sample(kind, path) for kind, path in bad.items()]
    m = measure(samples, load_processor(tiny_tokenizer_path), 8192, {}, num_workers=0, progress=False)
    assert m.kept == [0] and m.dropped_bad_image == 4 and m.dropped == 0
    assert m.summary(len(samples))["dropped_bad_image"] == 4
    assert m.bad_image_by_category == {"not_an_image": 1, "empty": 1, "undecodable": 1, "too_many_pixels": 1}
    assert len(m.bad_image_reasons) == 4
    for (kind, path), reason in zip(bad.items(), m.bad_image_reasons):
        assert reason.startswith(f"sample {kind}: ") and path in reason, reason
    assert "truncated" in m.bad_image_reasons[2]


def _mix_with_bad_images(tmp_path, bad):
    """The bundled stage-1 mix (32 samples, images at absolute paths) with one sample per bad image."""
    source = package_path("data/demo/train_mix/stage1.jsonl")
    with open(source) as f:
        rows = [json.loads(line) for line in f]
    for row in rows:
        row["images"] = [os.path.join(os.path.dirname(source), p) for p in row["images"]]
    single = [row for row in rows if len(row["images"]) == 1]
    for row, path in zip(single, bad.values()):
        row["images"] = [path]
    mix = tmp_path / "mix"
    mix.mkdir()
    (mix / "stage1.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return mix, [row["id"] for row in single[:len(bad)]]


def test_stage_trains_without_its_bad_image_samples_and_counts_them(tmp_path, tiny_tokenizer_path, pixel_limit,
                                                                    monkeypatch, caplog):
    from chiron.train.job import run

    pixel_limit(max_pixels=70_000)  # the demo images are at most 256x256; a 300x300 one is too large
    mix, _ = _mix_with_bad_images(tmp_path, bad_images(tmp_path / "bad", too_large_side=300))
    cfg, _ = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", f"train_inputs.mix_dir={mix}",
                       "train.global_batch=4", "train.micro_batch=2")
    monkeypatch.setattr("chiron.train.job.run_dir", lambda _cfg: str(tmp_path / "run"))
    with caplog.at_level(logging.INFO):
        [record] = run(cfg)
    stage = json.loads((tmp_path / "run" / "train" / "stage1" / "stage.json").read_text())
    assert stage["dropped_bad_image"] == record["dropped_bad_image"] == 4
    assert stage["kept"] == 28 and stage["samples"] == 32 and stage["optimizer_steps"] == 7
    assert sum(stage["dropped_bad_image_by_category"].values()) == 4
    assert "28 samples kept (0 truncated, 0 dropped too long, 4 dropped for a bad image)" in caplog.text
    assert "4 of 32 samples dropped for an unusable image" in caplog.text
    assert os.path.isfile(os.path.join(record["adapter"], "adapter_model.safetensors"))


def test_stage_whose_every_sample_is_dropped_fails_naming_the_first_reasons(tmp_path, tiny_tokenizer_path,
                                                                          pixel_limit):
    from chiron.train.curriculum import run_curriculum
    from chiron.train.job import stage_files

    bad = bad_images(tmp_path / "bad", too_large_side=20)
    mix = tmp_path / "mix"
    mix.mkdir()
    paths = list(bad.values())
    (mix / "stage1.jsonl").write_text("".join(json.dumps({
        "id": f"s{i}", "source": "t", "images": [paths[i % len(paths)]],
        "messages": [{"role": "user", "content": "<image>\nQ"}, {"role": "assistant", "content": "A"}]}) + "\n"
        for i in range(6)))
    pixel_limit(max_pixels=100)
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", f"train_inputs.mix_dir={mix}")
    with pytest.raises(StageDataUnusable) as caught:
        run_curriculum(settings, stage_files(cfg), str(tmp_path / "out"), "t")
    message = str(caught.value)
    assert isinstance(caught.value, TaskFailed)  # run.py prints it as the run's one closing line
    assert "every one of its 6 samples was dropped" in message and "6 with an unusable image" in message
    assert "sample s0: " in message and bad["text_as_png"] in message and bad["empty"] in message
