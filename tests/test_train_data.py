"""Encoding (assistant-only labels, truncation) and length-grouped, resumable batching."""

import json
import os

import pytest
import torch
from PIL import Image

from chiron.data.sample import Sample
from chiron.llm.tiny import load_processor
from chiron.train.batching import LengthGroupedBatchSampler, collate
from chiron.train.datamodule import measure, read_stage_file
from chiron.train.encoding import IGNORE_INDEX, SampleTooLong, encode, structured_messages


@pytest.fixture(scope="module")
def processor(tiny_tokenizer_path):
    return load_processor(tiny_tokenizer_path)


def _image(_path):
    return Image.new("RGB", (130, 70), (120, 30, 200))


def _two_turns(images=2):
    user = "<image>\n" * images + "What is shown?"
    return Sample(id="s", source="t", images=[f"img{i}.png" for i in range(images)], messages=[
        {"role": "user", "content": user},
        {"role": "assistant", "content": "Step 1: a lung.\n### The final answer is: Yes"},
        {"role": "user", "content": "Are you sure?"},
        {"role": "assistant", "content": "Yes"},
    ])


def test_labels_cover_only_assistant_text_and_its_end_token(processor):
    e = encode(_two_turns(), processor, 8192, load_image=_image)
    labelled = processor.tokenizer.decode(e.input_ids[e.labels != IGNORE_INDEX])
    assert labelled == "Step 1: a lung.\n### The final answer is: Yes<|im_end|>Yes<|im_end|>"
    # Labels are the ids themselves where set.
    mask = e.labels != IGNORE_INDEX
    assert torch.equal(e.labels[mask], e.input_ids[mask])
    # Nothing of the user turns, the images or the role headers is supervised.
    prompt = processor.tokenizer.decode(e.input_ids[~mask])
    assert "What is shown?" in prompt and "Are you sure?" in prompt and "<IMG_CONTEXT>" in prompt


def test_piecewise_ids_equal_whole_text_tokenization(processor):
    sample = _two_turns()
    e = encode(sample, processor, 8192, load_image=_image)
    text = processor.apply_chat_template(structured_messages(sample), tokenize=False)
    whole = processor(text=[text], images=[_image(None)] * 2, return_tensors="pt")
    assert torch.equal(e.input_ids, whole["input_ids"][0])
    assert torch.equal(e.images["pixel_values"], whole["pixel_values"])


def test_tiling_follows_processor_kwargs(processor):
    wide = Sample(id="w", source="t", images=["x"], messages=[
        {"role": "user", "content": "<image>\nQ"}, {"role": "assistant", "content": "A"}])
    big = lambda _p: Image.new("RGB", (400, 70))  # noqa: E731 - a wide image cuts into many tiles
    one = encode(wide, processor, 8192, {"crop_to_patches": False}, load_image=big)
    six = encode(wide, processor, 8192, {"crop_to_patches": True, "max_patches": 6}, load_image=big)
    assert one.images["pixel_values"].shape[0] == 1
    assert six.images["pixel_values"].shape[0] == 7  # 6 tiles + the thumbnail
    assert len(six.input_ids) > len(one.input_ids)


def test_long_reply_is_cut_at_the_tail_and_counted(processor):
    sample = Sample(id="long", source="t", messages=[
        {"role": "user", "content": "Q"}, {"role": "assistant", "content": "word " * 400}])
    e = encode(sample, processor, 64, load_image=_image)
    assert e.truncated and len(e.input_ids) == 64 and (e.labels != IGNORE_INDEX).any()


def test_sample_whose_images_do_not_fit_is_refused(processor):
    with pytest.raises(SampleTooLong, match="images end"):
        encode(_two_turns(), processor, 20, load_image=_image)


def test_prompt_longer_than_max_length_leaves_no_label(processor):
    sample = Sample(id="p", source="t", messages=[
        {"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "Yes"}])
    with pytest.raises(SampleTooLong, match="no assistant token"):
        encode(sample, processor, 32, load_image=_image)


def test_placeholder_image_mismatch_is_an_error(processor):
    sample = _two_turns()
    sample.images.append("extra.png")
    with pytest.raises(ValueError, match="images left"):
        encode(sample, processor, 8192, load_image=_image)


def test_measure_counts_kept_truncated_and_dropped(processor):
    samples = [
        Sample(id="ok", source="t", messages=[{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]),
        Sample(id="cut", source="t", messages=[{"role": "user", "content": "Q"},
                                               {"role": "assistant", "content": "word " * 300}]),
        Sample(id="drop", source="t", messages=[{"role": "user", "content": "word " * 300},
                                                {"role": "assistant", "content": "A"}]),
    ]
    m = measure(samples, processor, 48, {}, num_workers=0, progress=False)
    assert m.kept == [0, 1] and m.truncated == 1 and m.dropped == 1
    assert m.lengths[1] == 48 and m.lengths[0] < 48


def test_stage_file_images_resolve_relative_to_the_file(tmp_path):
    (tmp_path / "imgs").mkdir()
    row = {"id": "a", "source": "t", "images": ["imgs/a.png"],
           "messages": [{"role": "user", "content": "<image>\nQ"}, {"role": "assistant", "content": "A"}]}
    (tmp_path / "stage1.jsonl").write_text(json.dumps(row) + "\n")
    [sample] = read_stage_file(str(tmp_path / "stage1.jsonl"))
    assert sample.images == [str(tmp_path / "imgs" / "a.png")]
    with pytest.raises(FileNotFoundError, match="build_mix"):
        read_stage_file(str(tmp_path / "stage9.jsonl"))


def test_bundled_training_mix_is_well_formed():
    # The offline demo of task=train reads these files on a fresh clone: every stage present, its
    # images on disk, one <image> placeholder per image, and an assistant turn to learn from.
    from chiron.data.make_demo_train_mix import SIZES
    from chiron.utils.paths import package_path

    for stage, size in SIZES.items():
        samples = read_stage_file(package_path(f"data/demo/train_mix/{stage}.jsonl"))
        assert len(samples) == size and len({s.id for s in samples}) == size
        for s in samples:
            assert all(os.path.isfile(p) for p in s.images), s.id
            text = "".join(m["content"] for m in s.messages if m["role"] == "user")
            assert text.count("<image>") == len(s.images), s.id
            assert any(m["role"] == "assistant" and m["content"].strip() for m in s.messages), s.id


# -- batching ----------------------------------------------------------------------------------

LENGTHS = [5, 80, 12, 300, 7, 64, 9, 150, 33, 41, 2, 90, 18, 250, 70, 11, 6, 120, 45, 28]


def test_ranks_partition_each_epoch_and_steps_see_similar_lengths():
    world, micro = 2, 2
    per_rank = [list(LengthGroupedBatchSampler(LENGTHS, micro, world, r, seed=3, group_factor=5))
                for r in range(world)]
    assert len(per_rank[0]) == len(per_rank[1]) == 5
    seen = sorted(i for batches in per_rank for b in batches for i in b)
    assert seen == list(range(len(LENGTHS)))
    # The very first step carries the longest sample (an out-of-memory shows at once).
    assert 3 in per_rank[0][0] + per_rank[1][0]
    # Within a mega-batch the groups are sorted by length, so each step's samples are neighbours.
    steps = [sorted(LENGTHS[i] for i in per_rank[0][s] + per_rank[1][s]) for s in range(5)]
    spread = sum(max(s) - min(s) for s in steps)
    shuffled = sum(max(LENGTHS[i:i + 4]) - min(LENGTHS[i:i + 4]) for i in range(0, 20, 4))
    assert spread < shuffled


def test_uneven_data_is_padded_so_every_rank_takes_the_same_steps():
    sampler = [LengthGroupedBatchSampler(LENGTHS[:7], 2, 2, r, seed=0) for r in range(2)]
    assert [len(list(s)) for s in sampler] == [2, 2]


def test_order_is_seeded_changes_per_epoch_and_skip_resumes_it():
    full = list(LengthGroupedBatchSampler(LENGTHS, 3, seed=1))
    assert full == list(LengthGroupedBatchSampler(LENGTHS, 3, seed=1))
    assert full != list(LengthGroupedBatchSampler(LENGTHS, 3, seed=2))
    other_epoch = LengthGroupedBatchSampler(LENGTHS, 3, seed=1)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != full
    resumed = LengthGroupedBatchSampler(LENGTHS, 3, seed=1, skip=lambda: 4)
    assert list(resumed) == full[4:]
    assert len(resumed) == len(full) == 7  # len stays the epoch's (Lightning's counter resumes too)


def test_collate_pads_right_and_concatenates_images():
    from chiron.train.encoding import Encoded

    a = Encoded(torch.tensor([1, 2, 3]), torch.tensor([-100, 2, 3]), {"pixel_values": torch.zeros(2, 3, 4, 4)})
    b = Encoded(torch.tensor([4]), torch.tensor([4]), {})
    batch = collate([a, b], pad_id=0)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 2, 3], [4, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["pixel_values"].shape[0] == 2
