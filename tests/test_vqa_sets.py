"""Public VQA set adapters against tiny copies of each published layout (chiron/vqa_sets)."""

import csv
import json
import os
import pickle

import pytest
from conftest import compose_config
from PIL import Image

from chiron.data.sample import validate_sample
from chiron.vqa_sets import VQA_SETS, VQASetError, load_vqa_set

PMC_V1_COLUMNS = ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D",
                  "Answer_label"]
PMC_V2_COLUMNS = ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C",
                  "Choice D", "Answer", "split"]


def _image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (8, 8), (120, 30, 30)).save(path)


def _json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)


def _csv(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)


def make_vqa_rad(root):
    _image(f"{root}/VQA_RAD Image Folder/synpic1.jpg")
    _image(f"{root}/VQA_RAD Image Folder/synpic2.jpg")
    row = {"qid": 1, "phrase_type": "freeform", "qid_linked_id": "03f451ca", "image_name": "synpic1.jpg",
           "image_organ": "HEAD", "question": "Is there a midline shift?", "answer": "Yes",
           "answer_type": "CLOSED", "question_type": "PRES"}
    _json(f"{root}/VQA_RAD Dataset Public.json", [
        row,
        {**row, "qid": 2, "phrase_type": "para", "question": "How many lesions are seen?", "answer": 2,
         "answer_type": "OPEN", "image_name": "synpic2.jpg"},
        {**row, "qid": 3, "phrase_type": "test_freeform", "question": "Is this a CT?"},
        {**row, "qid": 4, "question": None},  # broken row
    ])


def make_slake(root):
    _image(f"{root}/imgs/xmlab1/source.jpg")
    row = {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "What modality is used?",
           "answer": "MRI", "q_lang": "en", "location": "Abdomen", "modality": "MRI", "answer_type": "OPEN",
           "base_type": "vqa", "content_type": "Modality", "triple": ["vhead", "_", "_"], "qid": 0}
    _json(f"{root}/train.json", [
        row,
        {**row, "qid": 1, "question": "Does the picture contain liver?", "answer": "Yes",
         "answer_type": "CLOSED"},
        {**row, "qid": 2, "q_lang": "zh", "question": "这张图片是什么模态？", "answer": "核磁共振"},
    ])
    _json(f"{root}/validate.json", [{**row, "qid": 9}])
    _json(f"{root}/test.json", [])


def make_path_vqa(root):
    for split in ("train", "val", "test"):
        _image(f"{root}/images/{split}/{split}_0000.jpg")
        os.makedirs(f"{root}/qas/{split}", exist_ok=True)
        image = f"{split}_0000"
        rows = [{"image": image, "question": "What have lost their nuclei?", "answer": "neutrophils"},
                {"image": image, "question": "Are the cells necrotic?", "answer": "yes"}]
        with open(f"{root}/qas/{split}/{split}_qa.pkl", "wb") as f:
            pickle.dump(rows, f)


def make_pmc_vqa(root):
    _image(f"{root}/images/PMC1064097_F1.jpg")
    _image(f"{root}/figures/PMC8253867_Fig1_41.jpg")
    choices = [" A:Diffuse uptake pattern", " B:Focal uptake pattern", " C:No uptake pattern",
               " D:Cannot determine from the information given"]
    _csv(f"{root}/train.csv", PMC_V1_COLUMNS, [
        ["PMC1064097_F1.jpg", "What is the uptake pattern in the breast?", "Focal uptake pattern", *choices,
         "B"],
        # no label: the answer text names option C
        ["PMC1064097_F1.jpg", "What is seen in the liver?", "No uptake pattern", *choices, ""],
        ["PMC1064097_F1.jpg", "Broken row without options", "x", "", "", "", "", "A"],
    ])
    _csv(f"{root}/test.csv", PMC_V1_COLUMNS, [])
    _csv(f"{root}/train_2.csv", PMC_V2_COLUMNS, [
        ["17", "PMC8253867_Fig1_41.jpg", "Axial CT ...", "Which organ is enlarged?", "A:Liver", "B:Spleen",
         "C:Kidney", "D:Pancreas", "B", "train"],
    ])


def make_pubmedvision(root):
    _image(f"{root}/images/pmc_a.jpg")
    _image(f"{root}/images/pmc_b.jpg")
    _json(f"{root}/PubMedVision_Alignment_VQA.json", [
        {"id": "a-1", "image": ["images/pmc_a.jpg"], "modality": "Computed Tomography", "body_part": "Chest",
         "conversations": [{"from": "human", "value": "Describe the image."},
                           {"from": "gpt", "value": "An axial CT of the chest."}]},
    ])
    _json(f"{root}/PubMedVision_InstructionTuning_VQA.json", [
        {"id": "i-1", "image": ["images/pmc_a.jpg", "images/pmc_b.jpg"], "modality": "MRI",
         "body_part": "Brain",
         "conversations": [{"from": "human", "value": "What differs between the two scans?"},
                           {"from": "gpt", "value": "The second shows a new lesion."},
                           {"from": "human", "value": "Where is it?"},
                           {"from": "gpt", "value": "In the left frontal lobe."}]},
        {"id": "i-2", "image": ["images/pmc_a.jpg"],
         "conversations": [{"from": "human", "value": "Question?"}, {"from": "robot", "value": "?"}]},
    ])


MAKERS = {"vqa_rad": make_vqa_rad, "slake": make_slake, "path_vqa": make_path_vqa, "pmc_vqa": make_pmc_vqa,
          "pubmedvision_alignment": make_pubmedvision, "pubmedvision_instruction": make_pubmedvision}


@pytest.fixture
def copies(tmp_path):
    roots = {}
    for name, make in MAKERS.items():
        roots[name] = str(tmp_path / make.__name__)
        make(roots[name])
    return roots


def test_every_set_has_a_fixture():
    assert set(MAKERS) == set(VQA_SETS)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_samples_validate_and_point_at_real_images(copies, name):
    samples = load_vqa_set(name, copies[name], check_images=True)
    got = list(samples)
    assert got and samples.report.samples == len(got)
    assert len({s.id for s in got}) == len(got)
    for sample in got:
        validate_sample(sample.to_json())
        assert sample.source == name and sample.id.startswith(f"{name}/train/")
        assert sample.meta["split"] == "train"
        assert all(os.path.isabs(p) and os.path.isfile(p) for p in sample.images)


def test_vqa_rad_maps_text_images_and_split(copies):
    samples = load_vqa_set("vqa_rad", copies["vqa_rad"])
    first, second = list(samples)
    assert first.id == "vqa_rad/train/1"
    assert first.messages == [{"role": "user", "content": "<image>\nIs there a midline shift?"},
                              {"role": "assistant", "content": "Yes"}]
    assert first.images == [os.path.join(copies["vqa_rad"], "VQA_RAD Image Folder", "synpic1.jpg")]
    assert first.meta["answer_type"] == "CLOSED" and first.meta["qid"] == 1
    assert second.messages[1]["content"] == "2"  # numeric answers become text
    assert samples.report.filtered == 1 and samples.report.skipped == {"bad row": 1}
    test = list(load_vqa_set("vqa_rad", copies["vqa_rad"], split="test"))
    assert [s.id for s in test] == ["vqa_rad/test/3"]


def test_slake_keeps_english_unless_told(copies):
    samples = load_vqa_set("slake", copies["slake"])
    got = list(samples)
    assert [s.meta["q_lang"] for s in got] == ["en", "en"]
    assert samples.report.filtered == 1
    assert got[0].images == [os.path.join(copies["slake"], "imgs", "xmlab1", "source.jpg")]
    assert got[1].meta["answer_type"] == "CLOSED"
    assert len(list(load_vqa_set("slake", copies["slake"], languages=None))) == 3
    assert [s.id for s in load_vqa_set("slake", copies["slake"], split="validate")] == ["slake/validate/9"]


def test_path_vqa_reads_the_pickles(copies):
    got = list(load_vqa_set("path_vqa", copies["path_vqa"], split="val"))
    assert [s.id for s in got] == ["path_vqa/val/0", "path_vqa/val/1"]
    assert got[0].images == [os.path.join(copies["path_vqa"], "images", "val", "val_0000.jpg")]
    assert got[1].messages[1]["content"] == "yes"


def test_pmc_vqa_renders_options_and_the_correct_one(copies):
    samples = load_vqa_set("pmc_vqa", copies["pmc_vqa"])
    labelled, by_text = list(samples)
    assert labelled.messages[0]["content"] == (
        "<image>\nWhat is the uptake pattern in the breast?\nOptions:\nA: Diffuse uptake pattern\n"
        "B: Focal uptake pattern\nC: No uptake pattern\nD: Cannot determine from the information given")
    assert labelled.messages[1]["content"] == "B: Focal uptake pattern"
    assert labelled.images == [os.path.join(copies["pmc_vqa"], "images", "PMC1064097_F1.jpg")]
    assert by_text.messages[1]["content"] == "C: No uptake pattern"
    assert samples.report.skipped == {"bad row": 1}
    (v2,) = load_vqa_set("pmc_vqa", copies["pmc_vqa"], split="train_2")
    assert v2.id == "pmc_vqa/train_2/17" and v2.messages[1]["content"] == "B: Spleen"
    assert v2.images == [os.path.join(copies["pmc_vqa"], "figures", "PMC8253867_Fig1_41.jpg")]
    assert v2.meta["caption"] == "Axial CT ..."


def test_pubmedvision_multi_turn(copies):
    samples = load_vqa_set("pubmedvision_instruction", copies["pubmedvision_instruction"])
    (sample,) = samples
    assert [m["role"] for m in sample.messages] == ["user", "assistant", "user", "assistant"]
    assert sample.messages[0]["content"] == "<image>\n<image>\nWhat differs between the two scans?"
    assert sample.messages[2]["content"] == "Where is it?"
    assert sample.images == [os.path.join(copies["pubmedvision_instruction"], "images", n)
                             for n in ("pmc_a.jpg", "pmc_b.jpg")]
    assert sample.id == "pubmedvision_instruction/train/i-1" and sample.meta["body_part"] == "Brain"
    assert samples.report.skipped == {"bad row": 1}  # the turn from "robot"
    (aligned,) = load_vqa_set("pubmedvision_alignment", copies["pubmedvision_alignment"])
    assert aligned.messages[1]["content"] == "An axial CT of the chest."


def test_pubmedvision_keeps_placeholders_already_there(tmp_path):
    make_pubmedvision(tmp_path)
    _json(f"{tmp_path}/PubMedVision_Alignment_VQA.json", [
        {"id": "p", "image": ["images/pmc_a.jpg", "images/pmc_b.jpg"],
         "conversations": [{"from": "human", "value": "Left: <image> right: <image> Compare."},
                           {"from": "gpt", "value": "Same."}]},
        {"id": "q", "image": ["images/pmc_a.jpg", "images/pmc_b.jpg"],
         "conversations": [{"from": "human", "value": "Only <image> one."}, {"from": "gpt", "value": "No."}]},
    ])
    samples = load_vqa_set("pubmedvision_alignment", str(tmp_path))
    (sample,) = samples
    assert sample.messages[0]["content"] == "Left: <image> right: <image> Compare."
    assert samples.report.skipped == {"bad row": 1}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_missing_copy_names_layout_and_url(tmp_path, name):
    adapter = VQA_SETS[name]
    with pytest.raises(VQASetError) as missing_root:
        load_vqa_set(name, str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(VQASetError) as missing_file:
        load_vqa_set(name, str(tmp_path / "empty"))
    for err in (missing_root, missing_file):
        message = str(err.value)
        assert name in message and adapter.url in message and "Expected layout" in message
        assert adapter.layout.strip().splitlines()[0] in message
    assert "missing" in str(missing_file.value)


def test_missing_image_skipped_only_when_checked(copies):
    os.remove(os.path.join(copies["slake"], "imgs", "xmlab1", "source.jpg"))
    assert len(list(load_vqa_set("slake", copies["slake"]))) == 2
    checked = load_vqa_set("slake", copies["slake"], check_images=True)
    assert list(checked) == [] and checked.report.skipped == {"missing image": 2}


def test_malformed_files_raise(copies):
    with open(os.path.join(copies["slake"], "train.json"), "w") as f:
        f.write("[{not json")
    with pytest.raises(VQASetError, match="not valid JSON"):
        list(load_vqa_set("slake", copies["slake"]))
    _json(os.path.join(copies["vqa_rad"], "VQA_RAD Dataset Public.json"), {"qid": 1})
    with pytest.raises(VQASetError, match="JSON list"):
        list(load_vqa_set("vqa_rad", copies["vqa_rad"]))
    _csv(os.path.join(copies["pmc_vqa"], "train.csv"), ["Figure_path", "Question"], [["a.jpg", "q"]])
    with pytest.raises(VQASetError, match="lacks columns") as err:
        list(load_vqa_set("pmc_vqa", copies["pmc_vqa"]))
    assert "huggingface.co/datasets/xmcmic/PMC-VQA" in str(err.value)
    with open(os.path.join(copies["path_vqa"], "qas", "train", "train_qa.pkl"), "wb") as f:
        f.write(b"not a pickle")
    with pytest.raises(VQASetError, match="could not be unpickled"):
        list(load_vqa_set("path_vqa", copies["path_vqa"]))


def test_duplicate_native_ids_are_skipped(copies):
    path = os.path.join(copies["slake"], "train.json")
    with open(path) as f:
        rows = json.load(f)
    _json(path, rows + [rows[0]])
    samples = load_vqa_set("slake", copies["slake"])
    assert len(list(samples)) == 2 and samples.report.skipped == {"duplicate id": 1}
    assert "skipped: 1 duplicate id" in samples.report.summary()


def test_path_vqa_parquet_copy_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-00000-of-00005.parquet").write_bytes(b"PAR1")
    with pytest.raises(VQASetError, match="parquet copy"):
        load_vqa_set("path_vqa", str(tmp_path))


def test_unknown_names_splits_and_options(copies):
    with pytest.raises(VQASetError, match="known sets: vqa_rad, slake") as err:
        load_vqa_set("vqa_med", "/data")
    assert "pubmedvision_instruction" in str(err.value)
    with pytest.raises(VQASetError, match="unknown split 'validation'.*train, validate, test"):
        load_vqa_set("slake", copies["slake"], split="validation")
    with pytest.raises(VQASetError, match="no option languages; its options: none"):
        load_vqa_set("vqa_rad", copies["vqa_rad"], languages=None)


def test_configs_name_known_sets(monkeypatch):
    monkeypatch.setenv("CHIRON_VQA_ROOT", "/mnt/vqa")
    local = compose_config(["vqa_sets=local"]).vqa_sets
    assert local.split == "train" and set(local.roots) == set(VQA_SETS)
    assert local.roots.slake == "/mnt/vqa/Slake1.0"
    none = compose_config(["vqa_sets=none"]).vqa_sets
    assert dict(none.roots) == {} and none.split == "train"
