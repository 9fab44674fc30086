"""Benchmark loaders (chiron/eval/benchmarks) against tiny copies of each published layout."""

import csv
import io
import json
import os
import pickle
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from chiron.eval.benchmarks import BENCHMARKS, BenchmarkError, get_loader, load_benchmark
from chiron.eval.benchmarks.base import make_item, normalize_options
from chiron.eval.benchmarks.medxpertqa import strip_answer_choices
from chiron.eval.benchmarks.mmmu import SUBJECTS
from chiron.eval.benchmarks.mmrp import parse_choice_question
from chiron.eval.items import EvalItem
from chiron.mmrp.part1 import qa_sample


def _image(path, color=(120, 30, 30)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (8, 8), color).save(path)


def _png(color):
    buf = io.BytesIO()
    Image.new("RGB", (6, 6), color).save(buf, format="PNG")
    return buf.getvalue()


def _json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)


def _jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")


# --- MMMU Health & Medicine --------------------------------------------------------------------

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
MMMU_SCHEMA = pa.schema([("id", pa.string()), ("question", pa.string()), ("options", pa.string()),
                         ("explanation", pa.string()),
                         *[(f"image_{n}", IMAGE) for n in range(1, 8)],
                         ("img_type", pa.string()), ("answer", pa.string()),
                         ("topic_difficulty", pa.string()),
                         ("question_type", pa.string()), ("subfield", pa.string())])


def _mmmu_row(id, question, options="[]", answer="A", question_type="multiple-choice", images=None):
    row = {"id": id, "question": question, "options": options, "explanation": "", "img_type": "['CT']",
           "answer": answer, "topic_difficulty": "Medium", "question_type": question_type,
           "subfield": "Radiology"}
    for n in range(1, 8):
        row[f"image_{n}"] = None
    for n, data in (images or {}).items():
        row[f"image_{n}"] = {"bytes": data, "path": f"{id}_{n}.png"}
    return row


def make_mmmu(root, split="validation"):
    red, blue = _png((200, 0, 0)), _png((0, 0, 200))
    for subject in SUBJECTS:
        rows = [_mmmu_row(f"{split}_{subject}_1", "Which organ is shown in <image 1>?",
                          "['Liver', 'Spleen', 'Kidney']", "B", images={1: red})]
        if subject == "Clinical_Medicine":
            rows += [
                # tags out of order: images are listed in order of first mention
                _mmmu_row(f"{split}_{subject}_2", "Compare <image 2> with <image 1>. Which is later?",
                          "['<image 1>', '<image 2>']", "A", images={1: red, 2: blue}),
                _mmmu_row(f"{split}_{subject}_3", "How many lesions are in <image 1>?", answer="3",
                          question_type="open", images={1: blue}),
                _mmmu_row(f"{split}_{subject}_4", "Broken options <image 1>", "not a list", images={1: red}),
                _mmmu_row(f"{split}_{subject}_5", "Answer out of range <image 1>", "['x', 'y']", "E",
                          images={1: red}),
            ]
        table = pa.Table.from_pylist(rows, schema=MMMU_SCHEMA)
        os.makedirs(os.path.join(root, subject), exist_ok=True)
        pq.write_table(table, os.path.join(root, subject, f"{split}-00000-of-00001.parquet"))


def test_mmmu_items_subjects_options_and_images(tmp_path):
    root = str(tmp_path / "MMMU")
    make_mmmu(root)
    loader = get_loader("mmmu_hm")
    items, report = loader.read(root)
    assert report.split == "validation"
    assert len(items) == 7 and report.n_skipped == 2
    assert [i.subject for i in items] == ["Basic_Medical_Science", *["Clinical_Medicine"] * 3,
                                         "Diagnostics_and_Laboratory_Medicine", "Pharmacy", "Public_Health"]
    first = items[0]
    assert first.kind == "choice" and first.benchmark == "mmmu_hm"
    assert first.options == (("A", "Liver"), ("B", "Spleen"), ("C", "Kidney"))
    assert first.answer_letter == "B" and first.answer == "Spleen"
    assert first.question == "Which organ is shown in <image 1>?"
    two = items[2]
    assert two.id == "validation_Clinical_Medicine_2"
    assert [os.path.basename(p) for p in two.images] == ["validation_Clinical_Medicine_2_2.png",
                                                         "validation_Clinical_Medicine_2_1.png"]
    assert Image.open(two.images[0]).getpixel((0, 0)) == (0, 0, 200)  # image 2 is the blue one
    opened = items[3]
    assert opened.kind == "open" and opened.answer == "3" and opened.options == ()
    for item in items:
        assert item.images and all(os.path.isfile(p) for p in item.images)
        assert os.path.dirname(item.images[0]) == os.path.join(root, ".chiron_images", "validation")

    # A second load finds the images in the cache and does not write them again.
    old = 1_000_000_000
    for item in items:
        for path in item.images:
            os.utime(path, (old, old))
    again = load_benchmark("mmmu_hm", root)
    assert [i.to_json() for i in again] == [i.to_json() for i in items]
    assert all(os.stat(p).st_mtime == old for i in again for p in i.images)


def test_mmmu_subject_subset_cache_option_and_missing(tmp_path):
    root = str(tmp_path / "MMMU")
    make_mmmu(root)
    cache = str(tmp_path / "cache")
    items = load_benchmark("mmmu_hm", root, subjects=["Pharmacy", "Basic_Medical_Science"], image_cache=cache)
    assert [i.subject for i in items] == ["Basic_Medical_Science", "Pharmacy"]
    assert all(p.startswith(cache) and os.path.isfile(p) for i in items for p in i.images)
    with pytest.raises(BenchmarkError, match="unknown subjects"):
        load_benchmark("mmmu_hm", root, subjects=["Cardiology"])
    # dev split not in the copy; a missing subject folder
    with pytest.raises(BenchmarkError, match="dev-00000-of-00001.parquet"):
        load_benchmark("mmmu_hm", root, split="dev")
    os.rename(os.path.join(root, "Public_Health"), os.path.join(root, "elsewhere"))
    with pytest.raises(BenchmarkError) as err:
        load_benchmark("mmmu_hm", root)
    message = str(err.value)
    assert "Public_Health" in message and "validation-00000-of-00001.parquet" in message
    assert "https://huggingface.co/datasets/MMMU/MMMU" in message
    assert len(load_benchmark("mmmu_hm", root, subjects="Pharmacy")) == 1


# --- MedXpertQA MM -----------------------------------------------------------------------------

def make_medxpertqa(root):
    for name in ("MM-0-a.jpeg", "MM-0-b.jpeg", "MM-1-a.jpeg", "MM-2-a.jpeg"):
        _image(os.path.join(root, "images", name))
    options = {"A": "Aortic dissection", "B": "Pneumothorax", "C": "Pericardial effusion", "D": "Pneumonia",
               "E": "Normal"}
    choices = " ".join(f"({k}) {v}" for k, v in options.items())
    _jsonl(os.path.join(root, "MM", "test.jsonl"), [
        {"id": "MM-0", "question": f"A 60-year-old has chest pain. What is shown?\nAnswer Choices: {choices}",
         "options": options, "label": "C", "images": ["MM-0-a.jpeg", "MM-0-b.jpeg"],
         "medical_task": "Diagnosis", "body_system": "Cardiovascular", "question_type": "Reasoning"},
        {"id": "MM-1", "question": f"Which structure is marked? Answer Choices: {choices}",
         "options": options,
         "label": "A", "images": ["MM-1-a.jpeg"], "medical_task": "Basic Science",
         "body_system": "Skeletal", "question_type": "Understanding"},
        "{not json",
        {"id": "MM-2", "question": "Label missing from options", "options": options, "label": "Z",
         "images": ["MM-2-a.jpeg"], "question_type": "Reasoning"},
        {"id": "MM-3", "question": "Image file missing", "options": options, "label": "A",
         "images": ["MM-3-a.jpeg"], "question_type": "Reasoning"},
    ])


def test_medxpertqa_items_and_subsets(tmp_path):
    root = str(tmp_path / "MedXpertQA")
    make_medxpertqa(root)
    items, report = get_loader("medxpertqa_mm").read(root)
    # an item whose image is missing is kept: the runner marks it bad_image, it stays in n
    assert [i.id for i in items] == ["MM-0", "MM-1", "MM-3"]
    assert report.skipped == Counter({"bad row": 2})
    assert not os.path.isfile(items[2].images[0])
    first = items[0]
    assert first.question == "A 60-year-old has chest pain. What is shown?"
    assert "Answer Choices" not in items[1].question and items[1].question == "Which structure is marked?"
    assert first.kind == "choice" and first.answer_letter == "C" and first.answer == "Pericardial effusion"
    assert [letter for letter, _ in first.options] == ["A", "B", "C", "D", "E"]
    assert [i.subject for i in items] == ["Reasoning", "Understanding", "Reasoning"]
    assert [os.path.basename(p) for p in first.images] == ["MM-0-a.jpeg", "MM-0-b.jpeg"]
    assert all(os.path.isfile(p) for p in first.images)
    assert first.meta["body_system"] == "Cardiovascular"
    assert [i.id for i in load_benchmark("medxpertqa_mm", root, subset="understanding")] == ["MM-1"]
    assert [i.id for i in load_benchmark("medxpertqa_mm", root, subset="Reasoning")] == ["MM-0", "MM-3"]
    with pytest.raises(BenchmarkError, match="unknown subset"):
        load_benchmark("medxpertqa_mm", root, subset="vision")
    with pytest.raises(BenchmarkError) as err:
        load_benchmark("medxpertqa_mm", root, split="dev")
    assert "MM/dev.jsonl" in str(err.value) and "TsinghuaC3I/MedXpertQA" in str(err.value)


def test_strip_answer_choices():
    assert strip_answer_choices("Q?\nAnswer Choices: (A) x (B) y") == "Q?"
    assert strip_answer_choices("No block here.") == "No block here."


# --- MMRP: pure text and the reference eval format ----------------------------------------------

def test_mmrp_text_choice_and_open(tmp_path):
    choice = qa_sample({"id": "c1/0", "case_id": "c1", "level": 2, "question": "Which sign suggests X?",
                        "options": {"A": "Sign one", "B": "Sign two", "C": "Sign three"}, "answer": "B",
                        "answer_text": "Sign two", "rationale": "Because two."}).to_json()
    open_row = {"id": "part1/c2/0", "source": "mmrp_part1",
                "messages": [{"role": "user", "content": "What is the most likely diagnosis?"},
                             {"role": "assistant", "content": "Reasoning.\n### The final answer is: Gout"}]}
    no_final = {**open_row, "id": "part1/c3/0",
                "messages": [open_row["messages"][0], {"role": "assistant", "content": "No marker"}]}
    broken = {"id": "x", "source": "mmrp_part1", "messages": []}
    _jsonl(str(tmp_path / "mmrp" / "test.jsonl"), [choice, open_row, no_final, broken])
    items, report = get_loader("mmrp_text").read(str(tmp_path / "mmrp"))
    assert len(items) == 2 and report.n_skipped == 2
    first, second = items
    assert first.kind == "choice" and first.question == "Which sign suggests X?"
    assert first.options == (("A", "Sign one"), ("B", "Sign two"), ("C", "Sign three"))
    assert first.answer_letter == "B" and first.answer == "Sign two"
    assert first.reference_reasoning == "Because two."
    assert second.kind == "open" and second.answer == "Gout" and second.reference_reasoning == "Reasoning."
    # the .jsonl itself as root
    assert len(load_benchmark("mmrp_text", str(tmp_path / "mmrp" / "test.jsonl"))) == 2
    with pytest.raises(BenchmarkError, match="test.jsonl"):
        load_benchmark("mmrp_text", str(tmp_path))


def test_parse_choice_question():
    question, options, rest = parse_choice_question("Q line\nmore\nA) one\n(B) two\nC. three\nPick one.")
    assert question == "Q line\nmore" and options == [("A", "one"), ("B", "two"), ("C", "three")]
    assert rest == "Pick one."
    assert parse_choice_question("No options here\nA) only one")[1] == []


def make_reference(root):
    for rel in ("images/1/ct_group1/0.jpeg", "images/1/ct_group1/1.jpeg", "images/2/mri_group1/0.png"):
        _image(os.path.join(root, rel))
    _json(os.path.join(root, "eval_data.json"), [
        {"id": 1, "img_name": ["images/1/ct_group1/0.jpeg", "images/1/ct_group1/1.jpeg"],
         "question": "What is the diagnosis? (Modality 1: <image>\n<image>) Reason step-by-step.",
         "reasoning": "### Step 1: look.", "answer": "Gastric adenocarcinoma.", "answer_type": "OPEN"},
        {"id": 2, "img_name": ["images/2/mri_group1/0.png"],
         "question": "Is it pressing on the artery? (Modality 1: <image>)", "reasoning": "### Step 1: yes.",
         "answer": "Yes.", "answer_type": "OPEN"},
        {"id": 3, "img_name": ["images/2/mri_group1/0.png"], "question": "No answer", "answer_type": "OPEN"},
    ])


@pytest.mark.parametrize("name", ["mmrp_mm", "reference"])
def test_reference_eval_format(tmp_path, name):
    root = str(tmp_path / "eval")
    make_reference(root)
    items, report = get_loader(name).read(root)
    assert len(items) == 2 and report.n_skipped == 1
    first, second = items
    assert first.benchmark == name and first.id == "1"
    assert first.kind == "open" and first.answer == "Gastric adenocarcinoma."
    assert first.question == "What is the diagnosis? (Modality 1: image 1, image 2) Reason step-by-step."
    assert first.meta["question_with_placeholders"].count("<image>") == 2
    assert first.reference_reasoning == "### Step 1: look." and first.subject == "open"
    assert len(first.images) == 2 and all(os.path.isfile(p) for p in first.images)
    assert second.kind == "yes_no" and second.answer == "yes"
    # images under another folder
    other = str(tmp_path / "other")
    os.makedirs(other)
    os.rename(os.path.join(root, "eval_data.json"), os.path.join(other, "eval_data.json"))
    moved = load_benchmark(name, other, image_root=root)
    assert [i.id for i in moved] == ["1", "2"]
    with pytest.raises(BenchmarkError) as err:
        load_benchmark(name, str(tmp_path / "eval"))
    assert "eval_data.json" in str(err.value) and "manglu097/Chiron-o1" in str(err.value)


# --- public VQA test splits ----------------------------------------------------------------------

def make_vqa_rad(root):
    _image(f"{root}/VQA_RAD Image Folder/synpic1.jpg")
    row = {"qid": 1, "phrase_type": "freeform", "image_name": "synpic1.jpg", "image_organ": "HEAD",
           "question": "Is there a midline shift?", "answer": "Yes", "answer_type": "CLOSED",
           "question_type": "PRES"}
    _json(f"{root}/VQA_RAD Dataset Public.json", [
        row,  # train: left out
        {**row, "qid": 2, "phrase_type": "test_freeform", "question": "Is this a CT?", "answer": "NO"},
        {**row, "qid": 3, "phrase_type": "test_para", "question": "Where is the lesion?",
         "answer": "Left frontal lobe", "answer_type": "OPEN"},
        {**row, "qid": 4, "phrase_type": "test_freeform", "question": None},  # broken
    ])


def make_slake(root):
    _image(f"{root}/imgs/xmlab1/source.jpg")
    row = {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "Is the liver healthy?", "answer": "Yes",
           "q_lang": "en", "answer_type": "CLOSED", "content_type": "Abnormality", "modality": "CT",
           "qid": 10}
    _json(f"{root}/test.json", [
        row,
        {**row, "qid": 11, "question": "Which organ is largest?", "answer": "Liver", "answer_type": "CLOSED"},
        {**row, "qid": 12, "q_lang": "zh", "question": "肝脏健康吗?", "answer": "是"},
    ])


def make_path_vqa(root):
    _image(f"{root}/images/test/test_0000.jpg")
    os.makedirs(f"{root}/qas/test", exist_ok=True)
    with open(f"{root}/qas/test/test_qa.pkl", "wb") as f:
        pickle.dump([{"image": "test_0000", "question": "Is this a carcinoma?", "answer": "yes"},
                     {"image": "test_0000", "question": "What is present?", "answer": "necrosis"}], f)


def make_pmc_vqa(root):
    _image(f"{root}/images/PMC1_F1.jpg")
    with open(f"{root}/test.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D",
                         "Answer_label"])
        writer.writerow(["PMC1_F1.jpg", "What modality is this?", "CT", " A:MRI", " B:CT", " C:PET", " D:US",
                         "B"])
        writer.writerow(["PMC1_F1.jpg", "Is this a yes/no question?", "Yes", " A:Yes", " B:No", " C:Maybe",
                         " D:Unknown", "A"])
        writer.writerow(["PMC2_F1.jpg", "Image missing?", "CT", " A:MRI", " B:CT", " C:PET", " D:US", "B"])


def test_vqa_test_splits(tmp_path):
    make_vqa_rad(str(tmp_path / "rad"))
    rad = load_benchmark("vqa_rad", str(tmp_path / "rad"))
    assert [(i.id, i.kind, i.answer, i.subject) for i in rad] == [
        ("test/2", "yes_no", "no", "closed"), ("test/3", "open", "Left frontal lobe", "open")]
    assert rad[0].question == "Is this a CT?" and "<image>" not in rad[0].question
    assert rad[0].meta["answer_type"] == "closed" and os.path.isfile(rad[0].images[0])

    make_slake(str(tmp_path / "slake"))
    slake = load_benchmark("slake", str(tmp_path / "slake"))
    assert [(i.kind, i.answer, i.meta["answer_type"]) for i in slake] == [("yes_no", "yes", "closed"),
                                                                         ("open", "Liver", "closed")]
    assert len(load_benchmark("slake", str(tmp_path / "slake"), languages=None)) == 3

    make_path_vqa(str(tmp_path / "pvqa"))
    path = load_benchmark("path_vqa", str(tmp_path / "pvqa"))
    assert [i.kind for i in path] == ["yes_no", "open"] and path[1].answer == "necrosis"

    make_pmc_vqa(str(tmp_path / "pmc"))
    items, report = get_loader("pmc_vqa").read(str(tmp_path / "pmc"))
    assert report.skipped == Counter()  # the row whose image is missing is kept (the runner: bad_image)
    assert len(items) == 3
    items = [i for i in items if os.path.isfile(i.images[0])]
    assert [i.kind for i in items] == ["choice", "choice"]  # options win over a yes/no answer
    first = items[0]
    assert first.question == "What modality is this?"
    assert first.options == (("A", "MRI"), ("B", "CT"), ("C", "PET"), ("D", "US"))
    assert first.answer_letter == "B" and first.answer == "CT"
    assert items[1].answer_letter == "A" and items[1].answer == "Yes"
    assert len(load_benchmark("pmc_vqa", str(tmp_path / "pmc"), check_images=False)) == 3


@pytest.mark.parametrize("name,expected,url", [
    ("vqa_rad", "VQA_RAD Dataset Public.json", "https://osf.io/89kps/"),
    ("slake", "test.json", "https://www.med-vqa.com/slake/"),
    ("path_vqa", "qas/test/test_qa.pkl", "https://github.com/UCSD-AI4H/PathVQA"),
    ("pmc_vqa", "test.csv", "https://huggingface.co/datasets/xmcmic/PMC-VQA"),
    ("mmmu_hm", "Basic_Medical_Science", "https://huggingface.co/datasets/MMMU/MMMU"),
    ("medxpertqa_mm", "MM/test.jsonl", "https://huggingface.co/datasets/TsinghuaC3I/MedXpertQA"),
    ("mmrp_mm", "eval_data.json", "https://github.com/manglu097/Chiron-o1"),
])
def test_missing_copy_names_layout_and_source(tmp_path, name, expected, url):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchmarkError) as err:
        load_benchmark(name, str(empty))
    message = str(err.value)
    assert name in message and "Expected layout" in message and expected in message and url in message
    with pytest.raises(BenchmarkError, match="root folder not found"):
        load_benchmark(name, str(tmp_path / "nowhere"))
    with pytest.raises(BenchmarkError, match="no root given"):
        load_benchmark(name, None)


# --- registry, options, limit, demo --------------------------------------------------------------

def test_registry_unknown_name_option_split():
    assert {"vqa_rad", "slake", "path_vqa", "pmc_vqa", "mmmu_hm", "medxpertqa_mm", "mmrp_text", "mmrp_mm",
            "reference", "demo"} <= set(BENCHMARKS)
    with pytest.raises(BenchmarkError) as err:
        load_benchmark("mmlu", "/tmp")
    assert "unknown benchmark 'mmlu'" in str(err.value)
    assert "mmmu_hm" in str(err.value) and "medxpertqa_mm" in str(err.value)
    with pytest.raises(BenchmarkError, match="no option colour"):
        load_benchmark("demo", None, colour="red")
    with pytest.raises(BenchmarkError, match="unknown split"):
        load_benchmark("demo", None, split="train")


def test_limit_keeps_first_items(tmp_path):
    root = str(tmp_path / "MMMU")
    make_mmmu(root)
    items = load_benchmark("mmmu_hm", root, limit=3)
    assert [i.id for i in items] == ["validation_Basic_Medical_Science_1", "validation_Clinical_Medicine_1",
                                     "validation_Clinical_Medicine_2"]
    # only the kept items' images were written
    assert sorted(os.listdir(os.path.join(root, ".chiron_images", "validation"))) == [
        "validation_Basic_Medical_Science_1_1.png", "validation_Clinical_Medicine_1_1.png",
        "validation_Clinical_Medicine_2_1.png", "validation_Clinical_Medicine_2_2.png"]
    assert load_benchmark("mmmu_hm", root, limit=0) == []
    assert [i.id for i in load_benchmark("demo", None, limit=3)] == ["case/demo-001", "case/demo-002",
                                                                     "case/demo-003"]


def test_demo_benchmark_offline_all_kinds():
    items = load_benchmark("demo", None)
    assert items == load_benchmark("demo", "/ignored/root")
    kinds = Counter(i.kind for i in items)
    assert set(kinds) == {"choice", "yes_no", "open"}
    cases = [i for i in items if i.id.startswith("case/")]
    pmc = [i for i in items if i.id.startswith("pmc_vqa/")]
    assert len(cases) == 12 and len(pmc) >= 2 and len(items) == len(cases) + len(pmc)
    assert items[:12] == cases  # deterministic order: cases, then PMC-VQA
    assert len({i.id for i in items}) == len(items)
    for item in items:
        assert item.benchmark == "demo" and item.images and all(os.path.isfile(p) for p in item.images)
        assert "**Question:**" not in item.question and "**Correct Answer:**" not in item.answer
        assert EvalItem.from_json(json.loads(json.dumps(item.to_json()))) == item
    assert {i.kind for i in cases} == {"yes_no", "open"}
    assert all(i.kind == "choice" and i.answer == dict(i.options)[i.answer_letter] for i in pmc)
    assert next(i for i in cases if i.id == "case/demo-001").answer == "yes"


def test_make_item_kind_rule():
    assert make_item(id="1", benchmark="b", question="Q?", answer="YES").kind == "yes_no"
    assert make_item(id="1", benchmark="b", question="Q?", answer="No.").answer == "no"
    assert make_item(id="1", benchmark="b", question="Q?", answer="Nodule").kind == "open"
    item = make_item(id="1", benchmark="b", question="Q?", answer="(B) two", options=["one", "two"])
    assert (item.kind, item.answer_letter, item.answer) == ("choice", "B", "two")
    item = make_item(id="1", benchmark="b", question="Q?", answer="one", options={"a": "one", "b": "two"})
    assert item.answer_letter == "A"
    assert normalize_options([("A", " x "), ("B", "y")]) == (("A", "x"), ("B", "y"))
    with pytest.raises(ValueError):
        make_item(id="1", benchmark="b", question="Q?", answer="three", options=["one", "two"])
