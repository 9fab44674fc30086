"""Write tiny fictional stand-ins for the six public medical VQA sets, in their published layouts.

    python -m chiron.data.make_demo_vqa [--out DIR]      # default: chiron/data/demo/vqa_sets

The offline demo runs the whole data mix, public VQA sets included, without the real downloads;
these copies let every adapter in chiron/vqa_sets read its own layout end to end. Every question,
answer, caption and image here was made up for this project: the images are simple shapes and
smoothed noise drawn with a fixed seed, nothing comes from the real sets or from patients.
File names follow the real naming patterns (synpic..., xmlab..., train_0000, PMC..._F1) with
numbers chosen well outside the real ranges. Running the generator twice yields byte-identical
files (fixed seeds, sorted JSON keys, fixed JPEG quality, no timestamps or EXIF).

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
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEED = 20250612
SIZE = 224
JPEG_QUALITY = 70
PICKLE_PROTOCOL = 4  # readable by every Python 3 the real PathVQA pickles are read with
DEFAULT_OUT = Path(__file__).resolve().parent / "demo" / "vqa_sets"

_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


# --------------------------------------------------------------------------- drawing helpers
# Own small helpers on a 224 px grid (make_demo.py draws at 256 px and is edited independently).


def _rng(key: str) -> np.random.Generator:
    """A generator seeded from the fixed seed and a stable (not hash()-randomised) key."""
    return np.random.default_rng([SEED, zlib.crc32(key.encode("utf-8"))])


def ell(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
    """Boolean mask of a filled ellipse; `angle` in degrees."""
    dx, dy = _X - cx, _Y - cy
    if angle:
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        dx, dy = dx * c + dy * s, -dx * s + dy * c
    return (dx / rx) ** 2 + (dy / ry) ** 2 <= 1.0


def blob(cx: float, cy: float, s: float) -> np.ndarray:
    return np.exp(-0.5 * (((_X - cx) / s) ** 2 + ((_Y - cy) / s) ** 2))


def smooth(rng: np.random.Generator, cells: int = 12) -> np.ndarray:
    """Smooth noise in [0, 1]: a coarse random grid upsampled bicubically."""
    small = rng.random((cells, cells)).astype(np.float32)
    big = Image.fromarray(small).resize((SIZE, SIZE), Image.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float64), 0.0, 1.0)


def layer(draw) -> np.ndarray:
    """Rasterise ImageDraw calls (fill=255) into a float mask in [0, 1]."""
    im = Image.new("L", (SIZE, SIZE), 0)
    draw(ImageDraw.Draw(im))
    return np.asarray(im, dtype=np.float64) / 255.0


def finish(a: np.ndarray, blur: float = 1.2, levels: int = 12) -> Image.Image:
    """Clip, soften and quantise to a few grey levels: flat areas keep the JPEGs a few KB."""
    im = Image.fromarray(np.round(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    step = 256 / levels
    q = np.floor(np.asarray(im, dtype=np.float64) / step) * step + step / 2
    return Image.fromarray(np.clip(np.round(q), 0, 255).astype(np.uint8))


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
    dx, dy = _X - SIZE / 2, _Y + 20
    depth, angle = np.hypot(dx, dy), np.arctan2(dx, dy)
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


def bar_chart(rng: np.random.Generator, values: tuple[float, ...]) -> np.ndarray:
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
    img = finish(PICTURES[kind](_rng(f"{path.parent.name}/{path.name}"), **options))
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


def _pickle(path: Path, data: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data, protocol=PICKLE_PROTOCOL))


# --------------------------------------------------------------------------- VQA-RAD

RAD_IMAGES = {
    "synpic900101.jpg": ("head_ct", {}, "HEAD"),
    "synpic900102.jpg": ("chest_xray", {"nodules": 2}, "CHEST"),
    "synpic900103.jpg": ("abdomen_ct", {}, "ABD"),
    "synpic900104.jpg": ("brain_mri", {}, "HEAD"),
    "synpic900105.jpg": ("chest_xray", {"effusion": True}, "CHEST"),
}
# (phrase_type, image, question, answer, answer_type, question_type); a "para" row rephrases the
# freeform row before it, as in the release. The integer answer is kept: the real file has some.
RAD_ROWS = [
    ("freeform", "synpic900101.jpg", "Is this a CT scan?", "Yes", "CLOSED", "MODALITY"),
    ("para", "synpic900101.jpg", "Was this image made with computed tomography?", "Yes", "CLOSED",
     "MODALITY"),
    ("freeform", "synpic900101.jpg", "On which side of the patient is the bright crescent?", "Right", "OPEN",
     "POS"),
    ("freeform", "synpic900102.jpg", "How many round spots are seen in the lungs?", 2, "OPEN", "COUNT"),
    ("freeform", "synpic900102.jpg", "Is the heart enlarged?", "No", "CLOSED", "SIZE"),
    ("para", "synpic900102.jpg", "Is the heart shadow bigger than it should be?", "No", "CLOSED", "SIZE"),
    ("freeform", "synpic900103.jpg", "Which organ holds the dark round spot?", "Liver", "OPEN", "ORGAN"),
    ("freeform", "synpic900103.jpg", "In which plane was this image taken?", "Axial", "OPEN", "PLANE"),
    ("freeform", "synpic900104.jpg", "Is this an MRI?", "Yes", "CLOSED", "MODALITY"),
    ("freeform", "synpic900104.jpg", "Where is the bright lesion?", "Left hemisphere", "OPEN", "POS"),
    ("freeform", "synpic900105.jpg", "Is there fluid at the base of the left lung?", "Yes", "CLOSED", "PRES"),
    ("para", "synpic900105.jpg", "Does the lower left chest look filled in?", "Yes", "CLOSED", "PRES"),
    ("test_freeform", "synpic900101.jpg", "Is there a midline shift?", "Yes", "CLOSED", "PRES"),
    ("test_para", "synpic900101.jpg", "Are the ventricles pushed away from the middle?", "Yes", "CLOSED",
     "PRES"),
    ("test_freeform", "synpic900103.jpg", "Is the spleen visible?", "Yes", "CLOSED", "PRES"),
    ("test_freeform", "synpic900105.jpg", "Is this a frontal view?", "Yes", "CLOSED", "PLANE"),
]


def write_vqa_rad(root: Path) -> dict[str, int]:
    for name, (kind, options, _) in RAD_IMAGES.items():
        _jpeg(root / "VQA_RAD Image Folder" / name, kind, **options)
    rows, linked = [], ""
    for qid, (phrase, image, question, answer, answer_type, question_type) in enumerate(RAD_ROWS, start=1):
        if not phrase.endswith("para"):  # a rephrasing shares its original's linked id
            linked = f"{zlib.crc32(f'rad{qid}'.encode()):08x}"
        rows.append({"qid": qid, "phrase_type": phrase, "qid_linked_id": linked, "image_name": image,
                     "image_organ": RAD_IMAGES[image][2], "question": question, "answer": answer,
                     "answer_type": answer_type, "question_type": question_type})
    _json(root / "VQA_RAD Dataset Public.json", rows)
    n_test = sum(r["phrase_type"].startswith("test") for r in rows)
    return {"train": len(rows) - n_test, "test": n_test}


# --------------------------------------------------------------------------- SLAKE

SLAKE_IMAGES = {
    9001: ("chest_ct", {}, "CT", "Lung"),
    9002: ("abdomen_ct", {"cyst": False}, "CT", "Abdomen"),
    9003: ("brain_mri", {"lesion": False}, "MRI", "Brain"),
    9004: ("chest_xray", {}, "X-Ray", "Chest"),
    9005: ("abdomen_ct", {"cyst": False}, "CT", "Abdomen"),
    9006: ("head_ct", {}, "CT", "Brain"),
}
# split -> (img_id, language, question, answer, answer_type, content_type)
SLAKE_ROWS = {
    "train": [
        (9001, "en", "What modality is used to take this image?", "CT", "OPEN", "Modality"),
        (9001, "en", "Which part of the body does this image show?", "Chest", "OPEN", "Position"),
        (9001, "en", "Does the picture contain a lung?", "Yes", "CLOSED", "Organ"),
        (9001, "en", "Where is the abnormality?", "Right lung", "OPEN", "Position"),
        (9001, "zh", "这张图片的成像方式是什么？", "CT", "OPEN", "Modality"),
        (9002, "en", "Which organ is the largest in this image?", "Liver", "OPEN", "Organ"),
        (9002, "en", "Does the liver look healthy?", "Yes", "CLOSED", "Abnormality"),
        (9002, "en", "How many kidneys are in this image?", "2", "OPEN", "Quantity"),
        (9003, "en", "In which plane is this image?", "Transverse Plane", "OPEN", "Plane"),
        (9003, "en", "Is the brain healthy?", "Yes", "CLOSED", "Abnormality"),
        (9003, "zh", "图中主要的器官是什么？", "脑", "OPEN", "Organ"),
        (9004, "en", "What modality is shown?", "X-Ray", "OPEN", "Modality"),
    ],
    "validate": [
        (9005, "en", "What modality is used to take this image?", "CT", "OPEN", "Modality"),
        (9005, "en", "Does the picture contain the spleen?", "Yes", "CLOSED", "Organ"),
        (9005, "en", "Where is the liver in this image?", "Left", "OPEN", "Position"),
    ],
    "test": [
        (9006, "en", "Which part of the body does this image show?", "Head", "OPEN", "Position"),
        (9006, "en", "Is the brain healthy?", "No", "CLOSED", "Abnormality"),
        (9006, "en", "What color is the abnormal area?", "White", "OPEN", "Color"),
    ],
}


def write_slake(root: Path) -> dict[str, int]:
    for img_id, (kind, options, _, _) in SLAKE_IMAGES.items():
        _jpeg(root / "imgs" / f"xmlab{img_id}" / "source.jpg", kind, **options)
    counts = {}
    for split, table in SLAKE_ROWS.items():
        rows = []
        for qid, (img_id, lang, question, answer, answer_type, content_type) in enumerate(table):
            _, _, modality, location = SLAKE_IMAGES[img_id]
            rows.append({"qid": qid, "img_id": img_id, "img_name": f"xmlab{img_id}/source.jpg",
                         "question": question, "answer": answer, "q_lang": lang, "location": location,
                         "modality": modality, "answer_type": answer_type, "base_type": "vqa",
                         "content_type": content_type, "triple": ["vhead", "_", "_"]})
        _json(root / f"{split}.json", rows)
        counts[split] = sum(lang == "en" for _, lang, *_ in table)  # English only by default
    return counts


# --------------------------------------------------------------------------- PathVQA

PATH_IMAGES = {
    "train_0000": "glands", "train_0001": "dense", "train_0002": "fibrous", "train_0003": "necrosis",
    "val_0000": "glands", "test_0000": "dense", "test_0001": "fibrous",
}
# split -> (image stem, question, answer); lower case like most of the release.
PATH_ROWS = {
    "train": [
        ("train_0000", "does this section show glands lined by one layer of cells?", "yes"),
        ("train_0000", "what surrounds the open spaces?", "rows of nuclei"),
        ("train_0000", "how are the glands arranged?", "in clusters"),
        ("train_0001", "are many inflammatory cells present?", "yes"),
        ("train_0001", "what fills the tissue?", "inflammatory cells"),
        ("train_0002", "is this tissue mostly made of fibres?", "yes"),
        ("train_0002", "are the nuclei crowded?", "no"),
        ("train_0002", "what runs across this section?", "bands of fibrous tissue"),
        ("train_0003", "what is seen in the pale centre?", "necrosis"),
        ("train_0003", "does the central area lack intact nuclei?", "yes"),
    ],
    "val": [
        ("val_0000", "does this section show glands?", "yes"),
        ("val_0000", "what lines the open spaces?", "epithelial cells"),
        ("val_0000", "is there necrosis?", "no"),
    ],
    "test": [
        ("test_0000", "are the cells densely packed?", "yes"),
        ("test_0001", "what is the main component of this tissue?", "collagen"),
        ("test_0001", "are there many nuclei?", "no"),
    ],
}


def write_path_vqa(root: Path) -> dict[str, int]:
    for stem, pattern in PATH_IMAGES.items():
        _jpeg(root / "images" / stem.split("_")[0] / f"{stem}.jpg", "pathology", pattern=pattern)
    for split, table in PATH_ROWS.items():
        _pickle(root / "qas" / split / f"{split}_qa.pkl",
                [{"image": image, "question": question, "answer": answer}
                 for image, question, answer in table])
    return {split: len(table) for split, table in PATH_ROWS.items()}


# --------------------------------------------------------------------------- PMC-VQA

PMC_IMAGES = {
    "images/PMC9900001_F1.jpg": ("chest_ct", {}),
    "images/PMC9900002_F2.jpg": ("bar_chart", {"values": (0.45, 0.8, 0.3, 0.6)}),
    "images/PMC9900003_F1.jpg": ("ultrasound", {}),
    "images/PMC9900004_F3.jpg": ("pathology", {"pattern": "glands"}),
    "images/PMC9900005_F1.jpg": ("brain_mri", {}),
    "images/PMC9900006_F1.jpg": ("chest_xray", {"nodules": 2}),
    "images/PMC9900007_F2.jpg": ("bar_chart", {"values": (0.9, 0.5, 0.35)}),
    "figures/PMC9900008_Fig1_12.jpg": ("abdomen_ct", {}),
    "figures/PMC9900009_Fig2_3.jpg": ("head_ct", {}),
    "figures/PMC9900010_Fig1_5.jpg": ("ultrasound", {}),
}
PMC_V1_COLUMNS = ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D",
                  "Answer_label"]
PMC_V2_COLUMNS = ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C",
                  "Choice D", "Answer", "split"]
# (figure, question, four options, correct letter)
PMC_V1 = {
    "train": [
        ("PMC9900001_F1.jpg", "What imaging technique was used for this figure?",
         ("Ultrasound", "CT", "MRI", "PET"), "B"),
        ("PMC9900001_F1.jpg", "Where is the nodule located?",
         ("Left lung", "Right lung", "Heart", "Spine"), "B"),
        ("PMC9900002_F2.jpg", "What type of figure is shown?",
         ("Bar chart", "Line graph", "Scatter plot", "Photograph"), "A"),
        ("PMC9900002_F2.jpg", "How many groups are compared in the chart?",
         ("Two", "Three", "Four", "Five"), "C"),
        ("PMC9900003_F1.jpg", "What does the dark round area most likely contain?",
         ("Fluid", "Bone", "Air", "Metal"), "A"),
        ("PMC9900003_F1.jpg", "Which imaging modality is shown?", ("CT", "X-ray", "Ultrasound", "MRI"), "C"),
        ("PMC9900004_F3.jpg", "What does the section show?",
         ("Glandular tissue", "Bone marrow", "Muscle fibres", "Cartilage"), "A"),
        ("PMC9900004_F3.jpg", "What kind of image is this?",
         ("Radiograph", "Microscopy", "Endoscopy", "Ultrasound"), "B"),
        ("PMC9900005_F1.jpg", "Where is the bright lesion?",
         ("Right hemisphere", "Left hemisphere", "Cerebellum", "Brainstem"), "B"),
        ("PMC9900005_F1.jpg", "Which imaging plane is shown?",
         ("Sagittal", "Coronal", "Axial", "Oblique"), "C"),
    ],
    "test": [
        ("PMC9900006_F1.jpg", "What is the imaging modality?", ("MRI", "X-ray", "Ultrasound", "PET"), "B"),
        ("PMC9900006_F1.jpg", "Which lung shows the round spots?", ("Left", "Right", "Both", "Neither"), "B"),
        ("PMC9900007_F2.jpg", "Which bar is the tallest?", ("First", "Second", "Third", "None"), "A"),
    ],
}
PMC_TEST_CLEAN = 2  # test_clean.csv is the first rows of test.csv, as the clean subset is a subset
# (native index, figure, caption, question, four options, correct letter)
PMC_V2 = {
    "train_2": [
        (0, "PMC9900008_Fig1_12.jpg", "Axial CT of the upper abdomen with a small round low-density lesion.",
         "Which organ holds the low-density lesion?", ("Liver", "Spleen", "Kidney", "Pancreas"), "A"),
        (1, "PMC9900008_Fig1_12.jpg", "Axial CT of the upper abdomen with a small round low-density lesion.",
         "What is the imaging modality?", ("MRI", "CT", "Ultrasound", "X-ray"), "B"),
        (2, "PMC9900009_Fig2_3.jpg", "Axial head CT with a crescent-shaped collection along the skull.",
         "What is the bright crescent along the skull?",
         ("Calcification", "A fluid collection", "Air", "Normal bone"), "B"),
        (3, "PMC9900009_Fig2_3.jpg", "Axial head CT with a crescent-shaped collection along the skull.",
         "On which side of the image is the crescent?", ("Left", "Right", "Top", "Bottom"), "A"),
    ],
    "test_2": [
        (0, "PMC9900010_Fig1_5.jpg", "Ultrasound sector showing a round echo-free structure.",
         "How does the round structure appear?", ("Bright", "Dark", "Striped", "Invisible"), "B"),
        (1, "PMC9900010_Fig1_5.jpg", "Ultrasound sector showing a round echo-free structure.",
         "What does the bright band behind it suggest?",
         ("Fluid in front of it", "Calcium", "Air", "Nothing"), "A"),
    ],
}


def _choices(options: tuple[str, ...]) -> list[str]:
    # The release writes " A:Text" with a leading space; the adapter strips both.
    return [f" {letter}:{text}" for letter, text in zip("ABCD", options)]


def write_pmc_vqa(root: Path) -> dict[str, int]:
    for ref, (kind, options) in PMC_IMAGES.items():
        _jpeg(root / ref, kind, **options)
    v1 = {split: [[figure, question, options["ABCD".index(letter)], *_choices(options), letter]
                  for figure, question, options, letter in table] for split, table in PMC_V1.items()}
    v1["test_clean"] = v1["test"][:PMC_TEST_CLEAN]
    for split, rows in v1.items():
        _csv(root / f"{split}.csv", PMC_V1_COLUMNS, rows)
    for split, table in PMC_V2.items():
        _csv(root / f"{split}.csv", PMC_V2_COLUMNS,
             [[index, figure, caption, question, *_choices(options), letter, split.removesuffix("_2")]
              for index, figure, caption, question, options, letter in table])
    return {**{split: len(rows) for split, rows in v1.items()},
            **{split: len(table) for split, table in PMC_V2.items()}}


# --------------------------------------------------------------------------- PubMedVision

PMV_IMAGES = {
    "pmv_900001_1.jpg": ("chest_ct", {}, "Computed Tomography", "Chest"),
    "pmv_900002_1.jpg": ("abdomen_ct", {}, "Computed Tomography", "Abdomen"),
    "pmv_900003_1.jpg": ("brain_mri", {}, "Magnetic Resonance Imaging", "Brain"),
    "pmv_900003_2.jpg": ("brain_mri", {"lesion": False}, "Magnetic Resonance Imaging", "Brain"),
    "pmv_900004_1.jpg": ("ultrasound", {}, "Ultrasound", "Abdomen"),
    "pmv_900005_1.jpg": ("pathology", {"pattern": "necrosis"}, "Microscopy Images", "Cellular"),
    "pmv_900006_1.jpg": ("chest_xray", {"effusion": True}, "X-ray", "Chest"),
    "pmv_900007_1.jpg": ("head_ct", {}, "Computed Tomography", "Brain"),
}
# (id, images, turns alternating human / gpt); the first image sets modality and body part.
PMV_ALIGNMENT = [
    ("demo-align-01", ["pmv_900001_1.jpg"], [
        "Describe this image.",
        ("An axial CT slice of the chest in a lung window. Both lungs appear dark; a small round "
         "nodule sits in the right lung. The heart and spine are in the middle.")]),
    ("demo-align-02", ["pmv_900002_1.jpg"], [
        "What does this image show?",
        ("An axial CT of the upper abdomen showing the liver, spleen, both kidneys and a vertebra. "
         "A small, dark, round lesion lies in the liver.")]),
    ("demo-align-03", ["pmv_900003_1.jpg"], [
        "Give a short description of the figure.",
        ("An axial T2-weighted MRI of the brain. Fluid appears bright. There is a bright oval "
         "lesion in the left hemisphere.")]),
    ("demo-align-04", ["pmv_900004_1.jpg"], [
        "Describe what you see.",
        ("A fan-shaped ultrasound image with a round, echo-free structure in the middle and a "
         "brighter band behind it, as expected behind fluid.")]),
    ("demo-align-05", ["pmv_900005_1.jpg"], [
        "Please describe this picture.",
        ("A microscopic section with a pale central area that lacks intact nuclei, surrounded by "
         "scattered dark nuclei, a pattern consistent with necrosis.")]),
    ("demo-align-06", ["pmv_900006_1.jpg"], [
        "What is shown here?",
        ("A frontal chest radiograph. The base of the left lung is white and the angle between "
         "the chest wall and the diaphragm is lost, suggesting a pleural effusion.")]),
    ("demo-align-07", ["pmv_900007_1.jpg"], [
        "Summarise the key findings.",
        ("An axial non-contrast head CT with a bright crescent along the skull on the patient's "
         "right side and a slight shift of the ventricles to the left.")]),
    ("demo-align-08", ["pmv_900003_1.jpg", "pmv_900003_2.jpg"], [
        "Describe the two images.",
        ("Two axial brain MRI slices. The first shows a bright lesion in the left hemisphere; the "
         "second, at another level, shows no lesion.")]),
    ("demo-align-09", ["pmv_900001_1.jpg"], [
        "What structures are visible?",
        "Both lungs, the heart, the chest wall and a vertebral body are visible on this CT slice."]),
    ("demo-align-10", ["pmv_900002_1.jpg"], [
        "What kind of image is this?",
        "This is a cross-sectional CT image of the abdomen."]),
]
PMV_INSTRUCTION = [
    ("demo-inst-01", ["pmv_900001_1.jpg"], [
        "Is there a nodule in this chest CT?", "Yes, there is a small round nodule in the right lung.",
        "Is it large?", "No, it is small, under one centimetre on this slice."]),
    ("demo-inst-02", ["pmv_900002_1.jpg"], [
        "Which organ contains the dark lesion?", "The liver, on the left side of the image."]),
    ("demo-inst-03", ["pmv_900003_1.jpg", "pmv_900003_2.jpg"], [
        "Compare the two MRI slices.",
        "The first slice shows a bright lesion in the left hemisphere; the second slice does not."]),
    ("demo-inst-04", ["pmv_900004_1.jpg"], [
        "Is the round structure solid or filled with fluid?",
        "It is most likely filled with fluid: it is echo-free and the band behind it is brighter.",
        "What could it be?", "A simple cyst is the most likely explanation."]),
    ("demo-inst-05", ["pmv_900005_1.jpg"], [
        "What happened in the pale centre of this section?",
        "The cells there have died: the centre shows necrosis without intact nuclei."]),
    ("demo-inst-06", ["pmv_900006_1.jpg"], [
        "Which side shows the abnormality?", "The left side: the base of the left lung is white."]),
    ("demo-inst-07", ["pmv_900007_1.jpg"], [
        "What is the bright crescent?", "A collection of blood between the brain and the skull.",
        "Does it push on the brain?", "Yes, the ventricles are shifted towards the other side.",
        "How urgent is this?", "It needs prompt review by a neurosurgical team."]),
    ("demo-inst-08", ["pmv_900001_1.jpg", "pmv_900006_1.jpg"], [
        "What modalities are these two images?",
        "The first is a chest CT slice and the second a frontal chest radiograph."]),
    ("demo-inst-09", ["pmv_900003_2.jpg"], [
        "Is there any lesion on this slice?", "No, this slice looks normal."]),
    ("demo-inst-10", ["pmv_900004_1.jpg"], [
        "Which imaging technique made this image?", "Ultrasound."]),
]


def _pmv_rows(table: list) -> list[dict]:
    rows = []
    for row_id, images, turns in table:
        _, _, modality, body_part = PMV_IMAGES[images[0]]
        rows.append({"id": row_id, "image": [f"images/{name}" for name in images],
                     "conversations": [{"from": "human" if k % 2 == 0 else "gpt", "value": text}
                                       for k, text in enumerate(turns)],
                     "modality": modality, "body_part": body_part})
    return rows


def write_pubmedvision(root: Path) -> dict[str, int]:
    for name, (kind, options, _, _) in PMV_IMAGES.items():
        _jpeg(root / "images" / name, kind, **options)
    _json(root / "PubMedVision_Alignment_VQA.json", _pmv_rows(PMV_ALIGNMENT))
    _json(root / "PubMedVision_InstructionTuning_VQA.json", _pmv_rows(PMV_INSTRUCTION))
    return {"alignment": len(PMV_ALIGNMENT), "instruction": len(PMV_INSTRUCTION)}


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
    counts = {folder: write(out / folder) for folder, write in WRITERS.items()}
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
