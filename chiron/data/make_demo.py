"""Write the bundled demo data set: fictional cases with synthetic, clearly artificial scans.

    python -m chiron.data.make_demo [--out DIR]      # default: chiron/data/demo

Everything here is invented for testing the pipeline: the patients, histories, questions and
reports were written for this project, and every image is drawn from simple shapes (ellipses,
arcs, lines, smoothed noise) with a fixed seed. Nothing is derived from real patients or from
third-party images. Running the generator twice yields byte-identical files.

Where things live: the case text and picture recipes are data, demo/source/cases.yaml (the twelve
search cases) and demo/source/corpus.yaml (the further corpus cases); the drawers they name are in
chiron/data/demo_images.py. This module loads the data, draws and writes.

Output layout:
    DIR/cases.jsonl       12 good records in the reference format (spec §3), the search's input
    DIR/bad_cases.jsonl   4 deliberately broken records (for tests)
    DIR/corpus.jsonl      34 records in the corpus format (chiron/data/corpus.py): demo-001..012 are
                          the twelve cases above (same images) with body systems, a discussion,
                          per-keyframe descriptions and keywords, and their question as `qa`;
                          demo-013..034 are further cases without a question
    DIR/images/<rid>/<modality>_group<k>/<i>.png
    DIR/README.md

The corpus spans 13 modalities and 15 body systems. Its length varies on purpose so that token-count
levels spread: demo-013, -020, -024 and -027 have at most 50 words of caption and discussion, demo-014,
-019, -023 and -025 more than 300. demo-024, -028 and -034 are not annotated (their images carry no
description or keywords). The deliberate edge cases (EDGE_CASES) are a minority; all other cases and
images are clean:
    demo-024, demo-027                  no `discussion` field
    demo-034                            image groups that hold images but have an empty caption
    demo-022/endoscopy_group1/1.png     160 x 160 (smaller than 196 px) in an otherwise good group
    demo-029/xray_group1/2.png          an exact byte copy of 0.png of the same group
    demo-017/fluoro_group1              a group of 11 keyframes (200 x 200, 8 grey levels)
    demo-032/ultrasound_group1/2.png    not an image (a line of text), referenced like the others
Adding the corpus leaves cases.jsonl, bad_cases.jsonl and their images byte-identical: the new cases
only add files, and the generators those images come from are unchanged.
Moving the case text into demo/source left every output file byte-identical, which
tests/test_demo_generator.py keeps checking.

Over 300 lines: reading and checking the case data, the edge cases a real corpus has, and writing
records, corpus and README; the drawing is in drawing.py and demo_images.py.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from chiron.data.demo_images import CANVAS, DRAWERS, SIZE, SPECKLED
from chiron.data.drawing import finish

DEFAULT_OUT = Path(__file__).resolve().parent / "demo"
SOURCE = DEFAULT_OUT / "source"  # read from the package, whatever --out says: the data is not output
SCENARIOS = ("patient_to_doctor", "doctor_to_doctor", "intern_to_senior")
PATIENT_ANSWERS = ("Yes", "No", "Cannot be determined")
BLUR = 0.8  # with 32 (or 16, 8) grey levels: soft edges, yet flat areas that keep the PNGs small

# Folder name in the image path -> modality as the corpus names it.
MODALITY_NAMES = {
    "ct": "CT", "mri": "MRI", "xray": "X-ray", "ultrasound": "Ultrasound", "mammography": "Mammography",
    "dsa": "DSA", "pet": "PET", "nm": "Nuclear medicine", "fluoro": "Fluoroscopy", "echo": "Echocardiography",
    "oct": "OCT", "fundus": "Fundus photography", "endoscopy": "Endoscopy",
}
# The deliberate edge cases of corpus.jsonl (documented in the module docstring and README.md).
EDGE_CASES = {
    "no_discussion": ("demo-024", "demo-027"),
    "no_caption": "demo-034",
    "small_image": "demo-022/endoscopy_group1/1.png",  # 160 x 160
    "duplicate_images": ("demo-029/xray_group1/0.png", "demo-029/xray_group1/2.png"),
    "many_keyframes": "demo-017/fluoro_group1",  # 11 keyframes of 200 x 200
    "unreadable_image": "demo-032/ultrasound_group1/2.png",
}
UNREADABLE = b"This keyframe failed to export from the scanner; the file holds no image data.\n"


# --------------------------------------------------------------------------- the source data


@dataclass(frozen=True)
class Pic:
    "One keyframe as the source data gives it: how it is drawn and what the keyframe annotator wrote."

    draw: str | None = None  # a DRAWERS name; None: a copy of another image, or the unreadable file
    args: dict = field(default_factory=dict)
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    size: int = SIZE  # side in pixels: drawn at SIZE, then shrunk
    levels: int | None = None  # grey levels; None: 16 for speckled drawers, 32 otherwise
    same_as: int | None = None  # an exact byte copy of this image of the same group
    unreadable: bool = False

    def __post_init__(self) -> None:
        if (self.draw is None) == (self.same_as is None and not self.unreadable):
            raise ValueError(f"a keyframe needs exactly one of draw, same_as, unreadable: {self}")
        if self.draw is not None and self.draw not in DRAWERS:
            raise ValueError(f"no drawer {self.draw!r} in chiron/data/demo_images.py")


_CASE_KEYS = {"id", "title", "systems", "certainty", "age", "gender", "annotated", "presentation",
              "scenario", "question", "answer", "groups", "discussion"}
_GROUP_KEYS = {"modality", "findings", "caption", "images"}
_PIC_KEYS = {f.name for f in fields(Pic)}


def _checked(obj: dict, allowed: set[str], where: str) -> dict:
    unknown = set(obj) - allowed
    if unknown:  # a misspelt key would otherwise drop its text from the output without a word
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    return obj


@cache
def _source(name: str) -> list[dict]:
    """The cases of demo/source/<name>.yaml, images as Pic. Cached (callers must not change it)
    because generate() reads the search cases twice, for cases.jsonl and for corpus.jsonl."""
    path = SOURCE / f"{name}.yaml"
    with open(path, encoding="utf-8") as f:
        cases = yaml.safe_load(f)
    for case in cases:
        where = f"{path.name} {case.get('id')}"
        for group in _checked(case, _CASE_KEYS, where)["groups"]:
            group["images"] = [Pic(**_checked(image, _PIC_KEYS, where))
                               for image in _checked(group, _GROUP_KEYS, where)["images"]]
    return cases


# --------------------------------------------------------------------------- writing


def _save_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=True)


def _jsonl_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _ref(case: dict, k: int, i: int) -> str:
    """Image path relative to images/; it is also the image's seed key, so it fixes the pixels."""
    return f"{case['id']}/{case['groups'][k - 1]['modality']}_group{k}/{i}.png"


def _write_pic(pic: Pic, path: Path, key: str) -> None:
    if pic.unreadable:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(UNREADABLE)
        return
    if pic.same_as is not None:
        path.write_bytes((path.parent / f"{pic.same_as}.png").read_bytes())
        return
    levels = pic.levels or (16 if pic.draw in SPECKLED else 32)
    img = finish(DRAWERS[pic.draw](CANVAS.rng(key), **pic.args), blur=BLUR, levels=levels, centre=False)
    if pic.size != SIZE:
        img = img.resize((pic.size, pic.size), Image.NEAREST)  # nearest keeps the few grey levels
    _save_png(img, path)


def build_records(image_root: Path) -> list[dict]:
    """Draw every search case's images under `image_root` and return the case records."""
    records = []
    for case in _source("cases"):
        refs, captions = [], []
        for k, group in enumerate(case["groups"], start=1):
            for i, pic in enumerate(group["images"]):
                ref = _ref(case, k, i)
                _write_pic(pic, image_root / ref, ref)
                refs.append(ref)
            head = "According to the " + "<image>\n" * len(group["images"]) + ", "
            captions.append(head + group["findings"])
        records.append({
            "rid": case["id"],
            "messages": [{"role": "user", "content": f"**Question:** {case['question']}"},
                         {"role": "assistant", "content": f"**Correct Answer:** {case['answer']}"}],
            "images": refs,
            "title": case["title"],
            "certainty": case["certainty"],
            "presentation": case["presentation"],
            "age_label": case["age"],
            "gender_label": case["gender"],
            "caption": captions,
            "scenario": case["scenario"],
            "modalities": [g["modality"] for g in case["groups"]],
        })
    return records


def bad_lines(image_root: Path) -> list[str]:
    """Four broken records; also writes the undecodable image the last one points to."""
    good = {
        "messages": [{"role": "user", "content": "**Question:** Is there a fracture on this film?"},
                     {"role": "assistant", "content": "**Correct Answer:** No"}],
        "title": "Broken test record", "certainty": "Diagnosis certain", "presentation": "Test only.",
        "age_label": "40 years", "gender_label": "Female",
        "caption": ["According to the <image>\n, test record with no real findings."],
        "scenario": "patient_to_doctor",
    }
    corrupt = image_root / "demo-bad-4" / "ct_group1" / "0.png"
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    noise = CANVAS.rng("corrupt").integers(0, 256, 700, dtype=np.uint8)
    corrupt.write_bytes(b"NOT-A-PNG\x00" + noise.tobytes())

    lines = ['{"rid": "demo-bad-1", "messages": [{"role": "user", "content": "**Question:** truncated line\n']
    missing = {"rid": "demo-bad-2", **good, "images": ["demo-001/ct_group1/0.png"]}
    del missing["messages"]
    lines.append(_jsonl_line(missing))
    lines.append(_jsonl_line({"rid": "demo-bad-3", **good, "images": ["demo-bad-3/ct_group1/0.png"]}))
    lines.append(_jsonl_line({"rid": "demo-bad-4", **good, "images": ["demo-bad-4/ct_group1/0.png"]}))
    return lines


def _image_entry(ref: str, pic: Pic, caption: str, annotated: bool) -> dict:
    if not annotated:
        return {"path": ref}
    missing = [k for k in pic.keywords if k not in caption]
    if missing:  # keywords are phrases of the caption; a typo here would silently break that contract
        raise ValueError(f"{ref}: keywords not in the caption: {missing}")
    return {"path": ref, "description": pic.description, "keywords": list(pic.keywords)}


def _corpus_entry(case: dict, image_root: Path | None) -> dict:
    """The corpus record of one case. Draws its images under `image_root`, except with None: the search
    cases' images are drawn by build_records, and corpus.jsonl shares them."""
    annotated = case.get("annotated", True)
    groups = []
    for k, group in enumerate(case["groups"], start=1):
        # A search case's findings follow "According to the <image>..., " in cases.jsonl; as a corpus
        # caption the same text starts with a capital.
        findings = group.get("findings", "")
        caption = group["caption"] if "caption" in group else findings[:1].upper() + findings[1:]
        images = []
        for i, pic in enumerate(group["images"]):
            ref = _ref(case, k, i)
            if image_root is not None:
                _write_pic(pic, image_root / ref, ref)
            images.append(_image_entry(ref, pic, caption, annotated))
        groups.append({"modality": MODALITY_NAMES[group["modality"]], "caption": caption, "images": images})
    entry = {"id": case["id"], "title": case["title"], "systems": case["systems"],
             "presentation": case["presentation"], "age": case["age"], "gender": case["gender"],
             "image_groups": groups}
    if "discussion" in case:  # two corpus cases have none on purpose
        entry["discussion"] = case["discussion"]
    entry.update(certainty=case["certainty"], annotated=annotated)
    if "question" in case:  # the search cases carry their question along
        entry["qa"] = {"scenario": case["scenario"], "question": case["question"], "answer": case["answer"]}
    return entry


def corpus_records(image_root: Path) -> list[dict]:
    """All corpus records: the twelve search cases (images already drawn), then the new cases."""
    return ([_corpus_entry(case, None) for case in _source("cases")]
            + [_corpus_entry(case, image_root) for case in _source("corpus")])


README = """\
# Demo data

Fictional demo cases (invented patients, questions and reports) with synthetic images drawn from simple
shapes; generated by chiron/data/make_demo.py, not real patient data.
Regenerate (byte-identical) with: python -m chiron.data.make_demo --out chiron/data/demo

- `cases.jsonl`: 12 cases in the reference record format, the search's input (demo-001 to demo-012).
- `bad_cases.jsonl`: 4 deliberately broken records, for tests.
- `corpus.jsonl`: 34 cases in the corpus format (see chiron/data/corpus.py), 13 imaging modalities and 15
  body systems. demo-001 to demo-012 are the cases of `cases.jsonl` with the same images, plus body systems,
  a discussion, per-image descriptions and keywords (phrases of the group's caption) and their question
  as `qa`; demo-013 to demo-034 are further cases without a question. Lengths vary from at most 50 words
  of caption and discussion (demo-013, -020, -024, -027) to more than 300 (demo-014, -019, -023, -025).
  demo-024, -028 and -034 are not annotated.
- `images/<id>/<modality>_group<k>/<i>.png`: the images, referenced relative to `images/`.

Deliberate edge cases in `corpus.jsonl` (every other case and image is clean):

- demo-024 and demo-027 have no `discussion`.
- demo-034 has image groups with images but an empty caption.
- demo-022/endoscopy_group1/1.png is 160 x 160 pixels (smaller than 196), in an otherwise good group.
- demo-029/xray_group1/2.png is an exact byte copy of 0.png in the same group.
- demo-017/fluoro_group1 holds 11 keyframes (200 x 200 pixels).
- demo-032/ultrasound_group1/2.png is not an image (a line of text) but is referenced like one.
"""


def generate(out: str | os.PathLike = DEFAULT_OUT) -> dict:
    out = Path(out)
    image_root = out / "images"
    out.mkdir(parents=True, exist_ok=True)
    records = build_records(image_root)
    with open(out / "cases.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(_jsonl_line(r) for r in records)
    with open(out / "bad_cases.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(bad_lines(image_root))
    corpus = corpus_records(image_root)
    with open(out / "corpus.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(_jsonl_line(r) for r in corpus)
    (out / "README.md").write_bytes(README.encode("utf-8"))
    return {"out": str(out), "cases": len(records), "images": sum(len(r["images"]) for r in records),
            "corpus_cases": len(corpus),
            "corpus_images": sum(len(g["images"]) for r in corpus for g in r["image_groups"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    summary = generate(args.out)
    print(f"wrote {summary['cases']} search cases ({summary['images']} images) and {summary['corpus_cases']} "
          f"corpus cases ({summary['corpus_images']} images) to {summary['out']}")


if __name__ == "__main__":
    main()
