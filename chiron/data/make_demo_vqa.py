"""Write tiny fictional stand-ins for the six public medical VQA sets, in their published layouts.

    python -m chiron.data.make_demo_vqa [--out DIR]      # default: chiron/data/demo/vqa_sets

The offline demo runs the whole data mix, public VQA sets included, without the real downloads;
these copies let every adapter in chiron/vqa_sets read its own layout end to end. Every question,
answer, caption and image here was made up for this project: the images are simple shapes and
smoothed noise drawn with a fixed seed, nothing comes from the real sets or from patients.
File names follow the real naming patterns (synpic..., xmlab..., train_0000, PMC..._F1) with
numbers chosen well outside the real ranges. Running the generator twice yields byte-identical
files (fixed seeds, sorted JSON keys, fixed JPEG quality, no timestamps or EXIF).

The rows and the picture recipes are data, demo/source/vqa_sets.yaml; the drawers and the
file formats are here (about 400 lines: five release layouts, each small, read best side by side).

Output layout (folder names as conf/vqa_sets/local.yaml expects under its root):
    DIR/VQA_RAD/        VQA_RAD Dataset Public.json, VQA_RAD Image Folder/*.jpg
    DIR/Slake1.0/       train.json, validate.json, test.json, imgs/xmlab*/source.jpg
    DIR/pvqa/           qas/<split>/<split>_qa.pkl (pickle protocol 4), images/<split>/*.jpg
    DIR/PMC-VQA/        train.csv, test.csv, test_clean.csv, images/*.jpg,
                        train_2.csv, test_2.csv, figures/*.jpg
    DIR/PubMedVision/   PubMedVision_Alignment_VQA.json, PubMedVision_InstructionTuning_VQA.json,
                        images/*.jpg
    DIR/README.md
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import pickle
import sys
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from PIL import ImageDraw

from chiron.data.drawing import Canvas, finish

SEED = 20250612
SIZE = 224
BLUR, LEVELS = 1.2, 12  # soft, few grey levels: flat areas keep the JPEGs a few KB
JPEG_QUALITY = 70
PICKLE_PROTOCOL = 4  # readable by every Python 3 the real PathVQA pickles are read with
DEFAULT_OUT = Path(__file__).resolve().parent / "demo" / "vqa_sets"
SOURCE = Path(__file__).resolve().parent / "demo" / "source" / "vqa_sets.yaml"

# A 224 px grid of its own: make_demo.py draws at 256 px, with another seed.
CANVAS = Canvas(SIZE, SEED)
_X, _Y = CANVAS.X, CANVAS.Y
_rng, ell, blob, smooth, layer = CANVAS.rng, CANVAS.ell, CANVAS.blob, CANVAS.smooth, CANVAS.layer


# --------------------------------------------------------------------------- pictures
# Each returns floats in [0, 1]; the options put the findings the questions ask about in place.
# "Left"/"right" in the questions mean the patient's side (image right = patient left).


def head_ct(rng: np.random.Generator, crescent: bool = True) -> np.ndarray:
    """Axial head CT; with `crescent`, a bright collection on the patient's right and a midline shift."""
    shift = 7 if crescent else 0
    tex = smooth(rng, 10)
    a = np.full((SIZE, SIZE), 0.03)
    a[ell(112, 112, 88, 104)] = 0.3
    a[ell(112, 112, 84, 100)] = 0.97
    inner = ell(112, 112, 76, 92)
    a[inner] = 0.45 + 0.05 * tex[inner]
    a[ell(100 + shift, 108, 5, 17, -10)] = 0.14
    a[ell(124 + shift, 108, 7, 20, 10)] = 0.14
    if crescent:
        a[inner & ~ell(124, 112, 76, 88) & (_X < 112)] = 0.78
    return a


def chest_xray(rng: np.random.Generator, nodules: int = 0, effusion: bool = False) -> np.ndarray:
    """Frontal chest radiograph: dark lungs, mediastinum, ribs; nodules in the patient's right lung."""
    a = 0.55 + 0.1 * smooth(rng, 8)
    a[~ell(112, 120, 104, 112)] = 0.05
    lungs = ell(70, 110, 36, 72) | ell(154, 110, 36, 72)
    a[lungs] = 0.16 + 0.06 * smooth(rng, 14)[lungs]
    ribs = layer(lambda d: [d.arc((x0, y, x0 + 90, y + 50), 200, 340, fill=255, width=3)
                            for y in range(40, 180, 22) for x0 in (26, 108)])
    a = np.where(lungs, a + 0.25 * ribs, a)
    a[ell(124, 140, 34, 40)] = 0.62  # heart, normal size
    a[(np.abs(_X - 112) < 9) & (_Y > 20)] = 0.7  # spine and mediastinum
    for k in range(nodules):
        a += 0.45 * blob(62 + 14 * k, 82 + 34 * k, 5.5)
    if effusion:
        a[ell(154, 110, 36, 72) & (_Y > 140)] = 0.68
    return a


def chest_ct(rng: np.random.Generator, nodule: bool = True) -> np.ndarray:
    """Axial chest CT in a lung window; a nodule in the patient's right lung."""
    a = np.zeros((SIZE, SIZE))
    a[ell(112, 118, 104, 76)] = 0.72
    a[ell(112, 118, 96, 69)] = 0.85
    lungs = ell(70, 112, 36, 52) | ell(154, 112, 36, 52)
    a[lungs] = 0.1 + 0.06 * smooth(rng, 16)[lungs]
    a[ell(120, 130, 26, 24)] = 0.9
    a[ell(112, 180, 13, 12)] = 1.0
    if nodule:
        a[ell(60, 96, 7, 7)] = 0.88
    return a


def abdomen_ct(rng: np.random.Generator, cyst: bool = True) -> np.ndarray:
    """Axial abdominal CT: liver (image left), spleen, kidneys, spine; a dark cyst in the liver."""
    tex = smooth(rng, 10)
    a = np.zeros((SIZE, SIZE))
    a[ell(112, 116, 104, 80)] = 0.24
    body = ell(112, 116, 97, 73)
    a[body] = 0.42 + 0.05 * tex[body]
    a[ell(72, 96, 44, 38)] = 0.58  # liver
    a[ell(162, 92, 20, 26)] = 0.56  # spleen
    a[ell(80, 146, 13, 18) | ell(144, 146, 13, 18)] = 0.66  # kidneys
    a[ell(112, 160, 12, 12)] = 0.98  # vertebra
    a[ell(112, 138, 6, 6)] = 0.72  # aorta
    if cyst:
        a[ell(64, 92, 11, 11)] = 0.2
    return a


def brain_mri(rng: np.random.Generator, lesion: bool = True) -> np.ndarray:
    """Axial T2-like brain MRI: bright fluid; a bright lesion in the patient's left hemisphere."""
    tex = smooth(rng, 14)
    a = np.full((SIZE, SIZE), 0.02)
    a[ell(112, 112, 84, 100)] = 0.55
    inner = ell(112, 112, 76, 92)
    a[inner] = 0.38 + 0.06 * tex[inner]
    a[ell(112, 112, 56, 72)] = 0.3
    a[ell(102, 108, 6, 18, -10) | ell(122, 108, 6, 18, 10)] = 0.92
    if lesion:
        a[ell(150, 86, 12, 10)] = 0.95
    return a


def ultrasound(rng: np.random.Generator, cyst: bool = True) -> np.ndarray:
    """A fan-shaped ultrasound sector with speckle and, optionally, an echo-free round cyst."""
    depth, angle = CANVAS.polar(-20.0)  # probe apex 20 px above the image
    fan = (depth > 30) & (depth < 236) & (np.abs(angle) < 0.62)
    echo = 0.35 + 0.25 * smooth(rng, 20) + 0.15 * smooth(rng, 40)
    if cyst:
        c = ell(118, 120, 24, 20)
        echo[c] = 0.04
        echo[ell(118, 160, 26, 14) & ~c] += 0.25  # brighter band behind fluid
    return np.where(fan, echo, 0.0)


def pathology(rng: np.random.Generator, pattern: str) -> np.ndarray:
    """A stained section seen as grey: pale stroma, dark nuclei arranged by `pattern`."""
    a = 0.78 + 0.1 * smooth(rng, 12)
    centres: list[tuple[float, float]] = []
    if pattern == "glands":
        for gx, gy in ((60, 60), (160, 70), (80, 160), (170, 170)):
            a[ell(gx, gy, 22, 18)] = 0.97  # open lumen
            centres += [(gx + 28 * math.cos(t), gy + 24 * math.sin(t)) for t in np.linspace(0, 6.1, 14)]
    elif pattern == "dense":
        centres = [tuple(p) for p in rng.uniform(8, SIZE - 8, (160, 2))]
    elif pattern == "fibrous":
        bands = layer(lambda d: [d.line([(0, y), (SIZE, y + 60)], fill=255, width=7)
                                 for y in range(-40, SIZE, 30)])
        a -= 0.2 * bands
        centres = [tuple(p) for p in rng.uniform(8, SIZE - 8, (18, 2))]
    elif pattern == "necrosis":
        a[ell(112, 112, 60, 50)] = 0.92
        rim = ell(112, 112, 66, 56)
        centres = [tuple(p) for p in rng.uniform(8, SIZE - 8, (120, 2)) if not rim[int(p[1]), int(p[0])]]
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    for cx, cy in centres:
        a -= 0.6 * blob(cx, cy, 3.2)
    return a


def bar_chart(rng: np.random.Generator, values: list[float]) -> np.ndarray:
    """A plain bar chart, the kind of figure panel PMC articles are full of."""
    def draw(d: ImageDraw.ImageDraw) -> None:
        d.line([(30, 20), (30, 194), (210, 194)], fill=255, width=2)
        width = 150 // len(values)
        for k, v in enumerate(values):
            x0 = 44 + k * (width + 6)
            d.rectangle([x0, 194 - int(160 * v), x0 + width - 8, 194], fill=255)
    return 1.0 - 0.8 * layer(draw)


PICTURES = {
    "head_ct": head_ct, "chest_xray": chest_xray, "chest_ct": chest_ct, "abdomen_ct": abdomen_ct,
    "brain_mri": brain_mri, "ultrasound": ultrasound, "pathology": pathology, "bar_chart": bar_chart,
}


# --------------------------------------------------------------------------- writing


def _jpeg(path: Path, kind: str, **options) -> None:
    """Draw one picture and save it as a small greyscale JPEG. The seed comes from the last two path
    parts: unique within the copies (SLAKE names every image source.jpg) and free of the out folder."""
    img = finish(PICTURES[kind](_rng(f"{path.parent.name}/{path.name}"), **options), blur=BLUR,
                 levels=LEVELS, centre=True)
    buf = io.BytesIO()
    # Fixed quality, no EXIF, no progressive scan: same bytes on every run.
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def _json(path: Path, data: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path.write_bytes(text.encode("utf-8"))


def _csv(path: Path, columns: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def _pickle(path: Path, rows: list[dict]) -> None:
    # Pickle writes a string object once and refers back to it when the same object recurs, so its
    # bytes depend on which equal strings are one object. Interning makes them depend on the values
    # alone (YAML gives every occurrence its own object, literals share one).
    rows = [{sys.intern(k): sys.intern(v) if isinstance(v, str) else v for k, v in row.items()}
            for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rows, protocol=PICKLE_PROTOCOL))




# --------------------------------------------------------------------------- the sets
# Each writer gets its folder's section of demo/source/vqa_sets.yaml (see the comments there).


def write_vqa_rad(root: Path, spec: dict) -> dict[str, int]:
    images = spec["images"]
    for name, (kind, options, _) in images.items():
        _jpeg(root / "VQA_RAD Image Folder" / name, kind, **options)
    rows, linked = [], ""
    for qid, row in enumerate(spec["rows"], start=1):
        phrase, image, question, answer, answer_type, question_type = row
        if not phrase.endswith("para"):  # a rephrasing shares its original's linked id
            linked = f"{zlib.crc32(f'rad{qid}'.encode()):08x}"
        rows.append({"qid": qid, "phrase_type": phrase, "qid_linked_id": linked, "image_name": image,
                     "image_organ": images[image][2], "question": question, "answer": answer,
                     "answer_type": answer_type, "question_type": question_type})
    _json(root / "VQA_RAD Dataset Public.json", rows)
    n_test = sum(r["phrase_type"].startswith("test") for r in rows)
    return {"train": len(rows) - n_test, "test": n_test}


def write_slake(root: Path, spec: dict) -> dict[str, int]:
    images = spec["images"]
    for img_id, (kind, options, _, _) in images.items():
        _jpeg(root / "imgs" / f"xmlab{img_id}" / "source.jpg", kind, **options)
    counts = {}
    for split, table in spec["rows"].items():
        rows = []
        for qid, (img_id, lang, question, answer, answer_type, content_type) in enumerate(table):
            _, _, modality, location = images[img_id]
            rows.append({"qid": qid, "img_id": img_id, "img_name": f"xmlab{img_id}/source.jpg",
                         "question": question, "answer": answer, "q_lang": lang, "location": location,
                         "modality": modality, "answer_type": answer_type, "base_type": "vqa",
                         "content_type": content_type, "triple": ["vhead", "_", "_"]})
        _json(root / f"{split}.json", rows)
        counts[split] = sum(lang == "en" for _, lang, *_ in table)  # English only by default
    return counts


def write_path_vqa(root: Path, spec: dict) -> dict[str, int]:
    for stem, pattern in spec["images"].items():
        _jpeg(root / "images" / stem.split("_")[0] / f"{stem}.jpg", "pathology", pattern=pattern)
    for split, table in spec["rows"].items():
        _pickle(root / "qas" / split / f"{split}_qa.pkl",
                [{"image": image, "question": question, "answer": answer}
                 for image, question, answer in table])
    return {split: len(table) for split, table in spec["rows"].items()}


PMC_V1_COLUMNS = ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D",
                  "Answer_label"]
PMC_V2_COLUMNS = ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C",
                  "Choice D", "Answer", "split"]
PMC_TEST_CLEAN = 2  # test_clean.csv is the first rows of test.csv, as the clean subset is a subset


def _choices(options: list[str]) -> list[str]:
    # The release writes " A:Text" with a leading space; the adapter strips both.
    return [f" {letter}:{text}" for letter, text in zip("ABCD", options)]


def write_pmc_vqa(root: Path, spec: dict) -> dict[str, int]:
    for ref, (kind, options) in spec["images"].items():
        _jpeg(root / ref, kind, **options)
    v1 = {split: [[figure, question, options["ABCD".index(letter)], *_choices(options), letter]
                  for figure, question, options, letter in table] for split, table in spec["v1"].items()}
    v1["test_clean"] = v1["test"][:PMC_TEST_CLEAN]
    for split, rows in v1.items():
        _csv(root / f"{split}.csv", PMC_V1_COLUMNS, rows)
    for split, table in spec["v2"].items():
        _csv(root / f"{split}.csv", PMC_V2_COLUMNS,
             [[index, figure, caption, question, *_choices(options), letter, split.removesuffix("_2")]
              for index, figure, caption, question, options, letter in table])
    return {**{split: len(rows) for split, rows in v1.items()},
            **{split: len(table) for split, table in spec["v2"].items()}}


def _pmv_rows(table: list[dict], images: dict) -> list[dict]:
    rows = []
    for row in table:
        _, _, modality, body_part = images[row["images"][0]]
        rows.append({"id": row["id"], "image": [f"images/{name}" for name in row["images"]],
                     "conversations": [{"from": "human" if k % 2 == 0 else "gpt", "value": text}
                                       for k, text in enumerate(row["turns"])],
                     "modality": modality, "body_part": body_part})
    return rows


def write_pubmedvision(root: Path, spec: dict) -> dict[str, int]:
    for name, (kind, options, _, _) in spec["images"].items():
        _jpeg(root / "images" / name, kind, **options)
    _json(root / "PubMedVision_Alignment_VQA.json", _pmv_rows(spec["alignment"], spec["images"]))
    _json(root / "PubMedVision_InstructionTuning_VQA.json", _pmv_rows(spec["instruction"], spec["images"]))
    return {"alignment": len(spec["alignment"]), "instruction": len(spec["instruction"])}


@cache
def _source() -> dict:
    """demo/source/vqa_sets.yaml, one section per folder. Cached (callers must not change it): tests
    generate more than once in one process."""
    with open(SOURCE, encoding="utf-8") as f:
        return yaml.safe_load(f)


# --------------------------------------------------------------------------- entry point

README = """\
# Fictional stand-ins for six public medical VQA sets

These folders are NOT the real data sets. They are tiny fictional copies written by
`chiron/data/make_demo_vqa.py` so that the offline demo and the tests can run every adapter in
`chiron/vqa_sets` without downloads. Every question, answer and caption was made up for this
project, and every image is simple shapes and smoothed noise drawn with a fixed seed; nothing is
taken from the real sets or from patients. Only the folder and file layouts (and the file naming
patterns) copy the published releases.

Folder, the set it stands in for (the adapter name), and where to get the real set:

- VQA_RAD/       VQA-RAD (vqa_rad): https://osf.io/89kps/
- Slake1.0/      SLAKE 1.0 (slake): https://www.med-vqa.com/slake/
- pvqa/          PathVQA (path_vqa): https://github.com/UCSD-AI4H/PathVQA
- PMC-VQA/       PMC-VQA (pmc_vqa): https://huggingface.co/datasets/xmcmic/PMC-VQA
- PubMedVision/  PubMedVision (pubmedvision_alignment, pubmedvision_instruction):
                 https://huggingface.co/datasets/FreedomIntelligence/PubMedVision

conf/vqa_sets/demo.yaml points the data mix here. For real training, download the real sets and
use conf/vqa_sets/local.yaml.

Regenerate (byte-identical) with: python -m chiron.data.make_demo_vqa --out chiron/data/demo/vqa_sets
"""

WRITERS = {"VQA_RAD": write_vqa_rad, "Slake1.0": write_slake, "pvqa": write_path_vqa,
           "PMC-VQA": write_pmc_vqa, "PubMedVision": write_pubmedvision}


def generate(out: str | os.PathLike = DEFAULT_OUT) -> dict[str, dict[str, int]]:
    """Write every set under `out`; returns folder -> split (or subset) -> rows written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = _source()
    if set(source) != set(WRITERS):  # a section without a writer would be dropped without a word
        raise ValueError(f"{SOURCE.name}: sections {sorted(source)}, writers {sorted(WRITERS)}")
    counts = {folder: write(out / folder, source[folder]) for folder, write in WRITERS.items()}
    (out / "README.md").write_bytes(README.encode("utf-8"))
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    counts = generate(args.out)
    total = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    for folder, splits in counts.items():
        print(f"{folder}: " + ", ".join(f"{split} {n}" for split, n in splits.items()))
    print(f"wrote {total} bytes to {args.out}")


if __name__ == "__main__":
    main()
