"""Write the bundled demo data set: fictional cases with synthetic, clearly artificial scans.

    python -m chiron.data.make_demo [--out DIR]      # default: chiron/data/demo

Everything here is invented for testing the pipeline: the patients, histories, questions and
reports were written for this project, and every image is drawn from simple shapes (ellipses,
arcs, lines, smoothed noise) with a fixed seed. Nothing is derived from real patients or from
third-party images. Running the generator twice yields byte-identical files.

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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEED = 20250611
SIZE = 256
DEFAULT_OUT = Path(__file__).resolve().parent / "demo"
SCENARIOS = ("patient_to_doctor", "doctor_to_doctor", "intern_to_senior")
PATIENT_ANSWERS = ("Yes", "No", "Cannot be determined")

_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


# --------------------------------------------------------------------------- drawing helpers


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


def blob(cx: float, cy: float, sx: float, sy: float | None = None) -> np.ndarray:
    sy = sx if sy is None else sy
    return np.exp(-0.5 * (((_X - cx) / sx) ** 2 + ((_Y - cy) / sy) ** 2))


def smooth(rng: np.random.Generator, cells: int = 16) -> np.ndarray:
    """Smooth noise in [0, 1]: a coarse random grid upsampled bicubically."""
    small = rng.random((cells, cells)).astype(np.float32)
    big = Image.fromarray(small).resize((SIZE, SIZE), Image.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float64), 0.0, 1.0)


def layer(fn: Callable[[ImageDraw.ImageDraw], None]) -> np.ndarray:
    """Rasterise ImageDraw calls (fill=255) into a float mask in [0, 1]."""
    im = Image.new("L", (SIZE, SIZE), 0)
    fn(ImageDraw.Draw(im))
    return np.asarray(im, dtype=np.float64) / 255.0


def finish(a: np.ndarray, blur: float = 0.8, levels: int = 32) -> Image.Image:
    """Clip to [0, 1], soften slightly and quantise to a few grey levels (keeps PNGs small)."""
    im = Image.fromarray(np.round(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    step = 256 // levels
    q = (np.asarray(im, dtype=np.uint16) // step) * step
    return Image.fromarray(q.astype(np.uint8))


def _polar(apex_y: float = -30.0) -> tuple[np.ndarray, np.ndarray]:
    """Depth and angle (radians from vertical) of every pixel relative to a probe apex above the image."""
    dx, dy = _X - SIZE / 2, _Y - apex_y
    return np.hypot(dx, dy), np.arctan2(dx, dy)


# --------------------------------------------------------------------------- CT


def ct_head(rng: np.random.Generator, slice: int = 0, sdh: bool = True) -> np.ndarray:
    """Axial non-contrast head CT; an acute subdural crescent on the patient's right (image left)."""
    k = 1.0 - 0.07 * slice
    shift = 6 if sdh else 0
    a = np.full((SIZE, SIZE), 0.02)
    tex = smooth(rng, 24)
    a[ell(128, 128, 101 * k, 119 * k)] = 0.33  # scalp
    a[ell(128, 128, 96 * k, 114 * k)] = 0.97  # skull
    inner = ell(128, 128, 87 * k, 105 * k)
    a[inner] = 0.44 + 0.04 * tex[inner]  # cortex
    wm = ell(128 + shift / 2, 128, 66 * k, 84 * k)
    a[wm] = 0.37 + 0.03 * tex[wm]  # white matter
    falx = layer(lambda d: d.line([(128 + shift * 0.4, 128 - 100 * k), (128 + shift, 128 - 25 * k)],
                                  fill=255, width=2))
    a[(falx > 0.5) & inner] = 0.55
    vs = 1.0 - 0.35 * slice
    a[ell(115 + shift, 122, 4 * k, 17 * k * vs, -12)] = 0.15  # compressed right lateral ventricle
    a[ell(141 + shift, 122, 8 * k, 24 * k * vs, 12)] = 0.15  # left lateral ventricle
    if sdh:
        crescent = (inner & ~ell(128 + 13 * k, 126, 86 * k, 100 * k) & (_X < 128)
                    & (_Y > 128 - 96 * k) & (_Y < 128 + 72 * k))
        a[crescent] = 0.74
    return a


def _chest_frame(rng: np.random.Generator, window: str, level: int) -> tuple[np.ndarray, dict]:
    lung_win = window == "lung"
    v = dict(fat=0.74, muscle=0.9, lung=0.12, bone=1.0, heart=0.9, blood=0.9) if lung_win else \
        dict(fat=0.2, muscle=0.42, lung=0.0, bone=0.95, heart=0.5, blood=0.86)
    a = np.zeros((SIZE, SIZE))
    a[ell(128, 135, 118, 86)] = v["fat"]
    a[ell(128, 135, 110, 79)] = v["muscle"]
    if level == 0:
        lungs = [(82, 130, 40, 56), (174, 130, 40, 56)]
    else:
        lungs = [(78, 133, 46, 62), (178, 133, 46, 62)]
    masks = [ell(*p) for p in lungs]
    lung = masks[0] | masks[1]
    tex = smooth(rng, 20)
    a[lung] = v["lung"] + (0.05 * tex[lung] if lung_win else 0.0)
    if level == 1:
        a[ell(140, 138, 38, 33, 20)] = v["heart"]
    else:
        a[ell(128, 104, 8, 8)] = 0.0  # trachea
    # small vessels in the lungs
    for _ in range(34):
        side = masks[int(rng.integers(0, 2))]
        ys, xs = np.nonzero(side)
        i = int(rng.integers(0, len(xs)))
        r = float(rng.uniform(1.3, 2.6))
        a[ell(xs[i], ys[i], r, r) & lung] = 0.55 if lung_win else 0.12
    # bones: vertebra, sternum, ribs
    a[ell(128, 190, 15, 14)] = v["bone"]
    a[ell(128, 190, 10, 9)] = v["bone"] * 0.75
    a[ell(128, 211, 5, 5)] = v["muscle"] * 0.9
    a[ell(128, 58, 10, 5)] = v["bone"]
    for t in (25, 50, 75, 105, 130, 155, 205, 230, 310, 335):
        x = 128 + 112 * math.cos(math.radians(t))
        y = 135 + 81 * math.sin(math.radians(t))
        a[ell(x, y, 5, 3.5, t)] = v["bone"]
    return a, masks[0]


def ct_chest(rng: np.random.Generator, window: str = "lung", level: int = 0, lesion: str = "") -> np.ndarray:
    """Axial chest CT. lesion: 'tb' (right upper lobe cavity + tree-in-bud) or 'pe' (emboli)."""
    a, right_lung = _chest_frame(rng, window, level)
    if lesion == "tb":
        cx, cy = (84, 116) if level == 0 else (74, 150)
        if level == 0:
            a[ell(cx, cy, 17, 15)] = 0.8
            a[ell(cx + 1, cy - 1, 11, 9)] = 0.02
        pts = []
        for _ in range(26 if level == 0 else 14):
            ang, rad = rng.uniform(0, 2 * math.pi), rng.uniform(20, 40)
            x, y = cx + rad * math.cos(ang), cy + rad * math.sin(ang)
            if right_lung[int(min(max(y, 0), 255)), int(min(max(x, 0), 255))]:
                pts.append((x, y))
        buds = layer(lambda d: [d.line([p, (p[0] + 5 * math.cos(j), p[1] + 5 * math.sin(j))],
                                       fill=255, width=1) for j, p in enumerate(pts)])
        a[(buds > 0.5) & right_lung] = 0.55
        for x, y in pts:
            a[ell(x, y, 2.4, 2.4) & right_lung] = 0.62
    elif lesion == "pe":
        if level == 0:
            a[ell(112, 110, 14, 14)] = 0.86  # ascending aorta
            a[ell(150, 176, 11, 11)] = 0.86  # descending aorta
            a[ell(142, 112, 16, 15)] = 0.86  # main pulmonary artery
            rpa = layer(lambda d: d.line([(140, 112), (86, 120)], fill=255, width=15))
            a[rpa > 0.5] = 0.86
            a[ell(103, 118, 13, 4.5, 8)] = 0.36  # filling defect in the right pulmonary artery
        else:
            a[ell(150, 176, 11, 11)] = 0.86
            for x, y in ((70, 140), (88, 162), (60, 165)):  # segmental arteries, polo-mint
                a[ell(x, y, 5.5, 5.5)] = 0.86
                a[ell(x, y, 3, 3)] = 0.36
            for x, y in ((170, 140), (186, 160)):
                a[ell(x, y, 5, 5)] = 0.86
            wedge = layer(lambda d: d.polygon([(33, 146), (36, 180), (58, 164)], fill=255))
            a[(wedge > 0.5) & right_lung] = 0.45
    return a


def ct_abdomen(rng: np.random.Generator, level: int = 0) -> np.ndarray:
    """Axial contrast CT of the lower abdomen with an inflamed appendix in the right iliac fossa."""
    a = np.zeros((SIZE, SIZE))
    tex = smooth(rng, 18)
    a[ell(128, 130, 112, 88)] = 0.22
    inside = ell(128, 130, 103, 80)
    a[inside] = 0.26 + 0.03 * tex[inside]
    for _ in range(9):  # bowel loops on the other side
        x, y = rng.uniform(125, 200), rng.uniform(80, 165)
        r = rng.uniform(8, 14)
        a[ell(x, y, r, r * 0.85) & inside] = 0.48
        if rng.random() < 0.5:
            a[ell(x, y, r * 0.45, r * 0.4) & inside] = 0.02
    a[ell(105, 184, 13, 17)] = 0.46  # psoas
    a[ell(151, 184, 13, 17)] = 0.46
    a[ell(128, 190, 15, 14)] = 0.95
    a[ell(128, 211, 5, 5)] = 0.4
    for sx in (-1, 1):  # iliac wings
        wing = ell(128 + sx * 78, 178, 22, 40, -sx * 25) & ~ell(128 + sx * 70, 180, 16, 34, -sx * 25)
        a[wing & inside] = 0.93
    fat = blob(78, 148, 26, 22) * (0.6 + 0.8 * smooth(rng, 40))
    a[inside] = np.maximum(a[inside], (0.26 + 0.2 * fat)[inside])
    if level == 0:
        tube = layer(lambda d: d.line([(96, 132), (78, 150), (68, 172)], fill=255, width=17, joint="curve"))
        lumen = layer(lambda d: d.line([(96, 132), (78, 150), (68, 172)], fill=255, width=7, joint="curve"))
        a[tube > 0.5] = 0.68
        a[lumen > 0.5] = 0.4
        a[ell(93, 135, 3.5, 3.5)] = 1.0  # appendicolith near the base
        a[ell(104, 120, 14, 10)] = 0.02  # caecal gas
    else:
        a[ell(74, 158, 10, 10)] = 0.68
        a[ell(74, 158, 4.5, 4.5)] = 0.4
    return a


# --------------------------------------------------------------------------- radiographs


def xray_chest(rng: np.random.Generator, view: str = "pa", lesion: str = "") -> np.ndarray:
    """Chest radiograph. lesion: 'tb' (right upper zone cavity) or 'rml' (right middle lobe consolidation)."""
    a = np.full((SIZE, SIZE), 0.05)
    tex = smooth(rng, 20)
    if view == "pa":
        a[ell(128, 140, 118, 128)] = 0.56
        lungs = ell(84, 128, 44, 86) | ell(172, 128, 44, 86)
        lungs &= _Y < 200
        a[lungs] = 0.17 + 0.05 * tex[lungs]
        a[(np.abs(_X - 128) < 12) & (_Y < 190)] = 0.6  # mediastinum / spine
        a[ell(140, 168, 44, 36)] = 0.62  # heart, mostly to the patient's left
        ribs = layer(lambda d: [d.arc([cx - 58, 58 + i * 19 - 28, cx + 58, 58 + i * 19 + 28], 195, 345,
                                      fill=255, width=3) for cx in (84, 172) for i in range(8)])
        a += 0.12 * ribs * (_Y < 205)
        clav = layer(lambda d: [d.line([(58, 52), (118, 66)], fill=255, width=6),
                                d.line([(198, 52), (138, 66)], fill=255, width=6)])
        a = np.maximum(a, 0.7 * clav)
        if lesion == "tb":
            a += 0.32 * blob(86, 86, 16, 14)
            ring = ell(86, 86, 13, 11) & ~ell(86, 86, 8, 6)
            a[ring] += 0.12
            a[ell(86, 86, 7, 5)] -= 0.18
        elif lesion == "rml":
            a = np.maximum(a, 0.62 * np.clip(1.4 * blob(104, 162, 22, 16), 0, 1))
            a[ell(98, 160, 2, 10, 30) | ell(108, 168, 2, 8, -20)] = 0.3  # air bronchograms
    else:  # lateral
        a[ell(128, 140, 92, 124)] = 0.56
        lung = ell(130, 122, 70, 86) & (_Y < 205)
        a[lung] = 0.19 + 0.05 * tex[lung]
        a[ell(104, 170, 40, 36)] = 0.6  # heart, anterior
        a[(np.abs(_X - 198) < 11) & (_Y > 40) & ell(128, 140, 92, 124)] = 0.68  # spine, posterior
        if lesion == "rml":
            wedge = layer(lambda d: d.polygon([(70, 150), (150, 128), (112, 188)], fill=255))
            a = np.maximum(a, 0.55 * wedge)
            fiss = layer(lambda d: [d.line([(70, 150), (150, 128)], fill=255, width=1),
                                    d.line([(112, 188), (150, 128)], fill=255, width=1)])
            a = np.maximum(a, 0.66 * fiss)
    return a


def xray_wrist(rng: np.random.Generator, view: str = "ap") -> np.ndarray:
    """Child's wrist: open growth plates and a torus buckle of the distal radial metaphysis."""
    a = np.full((SIZE, SIZE), 0.04)
    soft = ell(128, 170, 62, 190) if view == "ap" else ell(128, 170, 52, 190)
    a[soft] = 0.3
    if view == "ap":
        radius = layer(lambda d: d.polygon([(98, 255), (104, 96), (88, 80), (130, 78), (126, 255)], fill=255))
        ulna = layer(lambda d: d.polygon([(144, 255), (142, 100), (160, 96), (162, 255)], fill=255))
        bones = (radius > 0.5) | (ulna > 0.5)
        a[bones] = 0.82
        a[(radius > 0.5) & ~ell(112, 170, 9, 200)] = 0.9  # cortex
        a[ell(112, 176, 6, 85)] = 0.66  # medullary cavity
        a[ell(152, 180, 5, 78)] = 0.66
        a[ell(110, 66, 22, 8)] = 0.78  # radial epiphysis above the open physis
        a[ell(151, 86, 8, 6)] = 0.78  # ulnar epiphysis
        for x, y, r in ((100, 34, 9), (124, 30, 10), (148, 40, 9), (136, 54, 6)):  # ossified carpals
            a[ell(x, y, r, r * 0.85)] = 0.72
        a[ell(97, 106, 4.5, 6)] = 0.92  # buckle of the radial cortex
    else:
        bone = layer(lambda d: d.polygon([(108, 255), (112, 92), (104, 80), (146, 78), (144, 255)], fill=255))
        a[bone > 0.5] = 0.85
        a[ell(128, 176, 8, 85)] = 0.7
        a[ell(126, 64, 22, 9)] = 0.8
        a[ell(126, 36, 16, 12)] = 0.72
        a[ell(145, 108, 4.5, 6)] = 0.95  # dorsal buckle
    return a


def xray_abdomen_infant(rng: np.random.Generator) -> np.ndarray:
    """Supine infant abdomen: a large gastric gas bubble with little gas beyond it."""
    a = np.full((SIZE, SIZE), 0.05)
    body = ell(128, 140, 104, 116)
    a[body] = 0.5 + 0.03 * smooth(rng, 12)[body]
    a[(np.abs(_X - 128) < 9) & body] = 0.62
    ribs = layer(lambda d: [d.arc([cx - 60, 20 + i * 16 - 26, cx + 60, 20 + i * 16 + 26],
                                  10 if cx > 128 else 100, 80 if cx > 128 else 170, fill=255, width=3)
                            for cx in (60, 196) for i in range(3)])
    a = np.maximum(a, 0.68 * ribs * body)
    a[ell(158, 82, 46, 32, -10)] = 0.14  # distended stomach (patient's left = image right)
    for x, y in ((96, 170), (150, 196)):
        a[ell(x, y, 5, 4)] = 0.2
    for sx in (-1, 1):
        a[ell(128 + sx * 52, 228, 18, 22, sx * 20) & body] = 0.7
    return a


# --------------------------------------------------------------------------- ultrasound


def ultrasound(rng: np.random.Generator, target: str, view: str = "long") -> np.ndarray:
    """Sector-probe ultrasound: a speckled fan with the target organ drawn into the echo map."""
    echo = np.full((SIZE, SIZE), 0.5)
    shadows: list[tuple[float, float, float]] = []  # (angle, half-width, depth)

    def put(mask: np.ndarray, value: float) -> None:
        echo[mask] = value

    def stone(x: float, y: float, rx: float, ry: float, value: float = 1.7) -> None:
        put(ell(x, y, rx, ry), value)
        shadows.append(_shadow(x, y, rx))

    if target == "gallbladder":
        if view == "long":
            put(ell(128, 134, 74, 40, -10) & (_Y > 134), 0.05)  # pericholecystic fluid
            put(ell(128, 130, 69, 35, -10), 0.85)  # thick wall
            put(ell(128, 130, 62, 28, -10), 0.02)  # bile
            stone(76, 138, 9, 8)
        else:
            put(ell(128, 134, 38, 36), 0.85)
            put(ell(128, 134, 31, 29), 0.02)
            stone(128, 155, 8, 7)
    elif target == "appendix":
        put(blob(125, 128, 50, 28) > 0.35, 0.85)  # inflamed, echogenic fat
        path = [(66, 121), (128, 126), (188, 136)]
        wall = layer(lambda d: d.line(path, fill=255, width=26, joint="curve"))
        sub = layer(lambda d: d.line(path, fill=255, width=12, joint="curve"))
        lum = layer(lambda d: d.line(path, fill=255, width=4, joint="curve"))
        tip = ell(188, 136, 13, 13)
        put((wall > 0.5) | tip, 0.16)
        put((sub > 0.5) | ell(188, 136, 6, 6), 0.9)
        put(lum > 0.5, 0.12)
        stone(72, 121, 6, 6)
        put(ell(196, 200, 22, 9), 0.03)  # a little free fluid
    elif target == "pylorus":
        if view == "long":
            put(ell(36, 104, 42, 34), 0.03)  # fluid-filled antrum
            mus = layer(lambda d: d.line([(70, 112), (190, 126)], fill=255, width=36))
            muc = layer(lambda d: d.line([(70, 112), (190, 126)], fill=255, width=6))
            put(mus > 0.5, 0.1)
            put(muc > 0.5, 0.88)
        else:
            put(ell(128, 130, 35, 33), 0.1)
            put(ell(128, 130, 13, 12), 0.88)
            put(ell(128, 130, 4, 4), 0.3)
    return _fan(rng, echo, shadows)


def _shadow(x: float, y: float, rx: float) -> tuple[float, float, float]:
    """(angle, half-width, depth) of the acoustic shadow behind a strong reflector at (x, y)."""
    depth, ang = math.hypot(x - SIZE / 2, y + 30), math.atan2(x - SIZE / 2, y + 30)
    return ang, rx / depth, depth


def _fan(rng: np.random.Generator, echo: np.ndarray, shadows: list[tuple[float, float, float]] = (),
         cells: int = 86) -> np.ndarray:
    """Cut an echo map to the probe's sector, with shadows, speckle and depth-dependent gain."""
    r, th = _polar()
    sector = (r > 40) & (r < 285) & (np.abs(th) < 0.62)
    shadow = np.zeros((SIZE, SIZE), dtype=bool)
    for ang, half, depth in shadows:
        shadow |= (np.abs(th - ang) < half) & (r > depth)
    echo[shadow] *= 0.08
    noise = Image.fromarray(rng.random((cells, cells)).astype(np.float32))
    field = noise.resize((SIZE, SIZE), Image.BILINEAR)
    speckle = 0.35 + 1.25 * np.asarray(field, dtype=np.float64) ** 2
    gain = 1.0 - 0.45 * np.clip((r - 40) / 245, 0, 1)
    return np.where(sector, echo * speckle * gain, 0.0)


# --------------------------------------------------------------------------- mammography


def mammography(rng: np.random.Generator, view: str = "cc") -> np.ndarray:
    """Left breast, chest wall at the image left; spiculated mass in the upper outer quadrant."""
    a = np.zeros((SIZE, SIZE))
    if view == "cc":
        breast = ell(0, 128, 196, 112) & (_X >= 0)
        mass_xy = (128, 86)  # lateral half (top of the CC image)
        nipple = (196, 128)
    else:
        breast = ell(0, 150, 186, 118, -12)
        mass_xy = (122, 98)  # above the nipple line
        nipple = (186, 111)  # tip of the rotated outline
    tex = smooth(rng, 14)
    dense = np.clip(1.0 - _X / 170.0, 0, 1) * (0.55 + 0.45 * tex)
    a[breast] = (0.3 + 0.4 * dense)[breast]
    skin = breast & ~(ell(0, 128, 190, 106) if view == "cc" else ell(0, 150, 180, 112, -12))
    a[skin] = 0.5
    if view == "mlo":
        pect = layer(lambda d: d.polygon([(0, 0), (72, 0), (0, 160)], fill=255))
        a[(pect > 0.5) & breast] = 0.68
    a[ell(nipple[0], nipple[1], 6, 5) & ~breast] = 0.45
    mx, my = mass_xy
    angles = np.linspace(0, 2 * math.pi, 15, endpoint=False) + rng.uniform(0, 0.4)
    lengths = rng.uniform(16, 30, 15)
    spic = layer(lambda d: [d.line([(mx, my), (mx + L * math.cos(t), my + L * math.sin(t))],
                                   fill=255, width=1) for t, L in zip(angles, lengths)])
    a = np.maximum(a, 0.82 * spic * breast)
    irregular = ell(mx, my, 11, 9, 20) | ell(mx + 4, my + 3, 8, 7) | ell(mx - 4, my - 2, 7, 8)
    a[irregular] = 0.92
    return a


# --------------------------------------------------------------------------- MRI

_MRI_SIGNAL = {  # tissue -> signal per sequence: scalp fat, skull, CSF, grey, white, lesion
    "t2": dict(fat=0.68, bone=0.05, csf=0.95, grey=0.55, white=0.4, lesion=0.9),
    "flair": dict(fat=0.6, bone=0.05, csf=0.08, grey=0.5, white=0.38, lesion=0.95),
    "t1c": dict(fat=0.82, bone=0.05, csf=0.1, grey=0.45, white=0.6, lesion=0.36),
    "dwi": dict(fat=0.1, bone=0.03, csf=0.05, grey=0.46, white=0.4, lesion=0.5),
}
_MS_LESIONS = [  # x, y, rx, ry, angle: ovoid, perpendicular to the ventricles
    (104, 96, 3.5, 8, 30), (152, 94, 3.5, 8, -30), (100, 142, 4, 9, -35), (158, 148, 3, 7, 35),
    (118, 82, 3, 6, 10), (60, 100, 3, 4, 0), (190, 150, 2.5, 4, 0),
]


def mri_brain(rng: np.random.Generator, seq: str = "t2") -> np.ndarray:
    s = _MRI_SIGNAL[seq]
    a = np.zeros((SIZE, SIZE))
    tex = smooth(rng, 22)
    a[ell(128, 128, 100, 118)] = s["fat"]
    a[ell(128, 128, 94, 112)] = s["bone"]
    a[ell(128, 128, 88, 106)] = s["csf"]
    grey = ell(128, 128, 85, 103)
    a[grey] = s["grey"] + 0.03 * tex[grey]
    white = ell(128, 128, 68, 87)
    a[white] = s["white"] + 0.02 * tex[white]
    fissure = layer(lambda d: d.line([(128, 24), (128, 70)], fill=255, width=2))
    a[fissure > 0.5] = s["csf"]
    a[ell(117, 122, 8, 27, -10) | ell(139, 122, 8, 27, 10)] = s["csf"]  # lateral ventricles
    for x, y, rx, ry, ang in _MS_LESIONS:
        a[ell(x, y, rx, ry, ang)] = s["lesion"]
    if seq == "t1c":  # open-ring enhancement of one active plaque
        ring = layer(lambda d: d.arc([92, 133, 108, 151], 60, 300, fill=255, width=2))
        a = np.maximum(a, 0.95 * ring)
    return a


def mri_knee(rng: np.random.Generator, view: str = "sag") -> np.ndarray:
    """Right knee, PD fat-suppressed: ACL replaced by fluid, lateral kissing contusions, effusion."""
    a = np.full((SIZE, SIZE), 0.02)
    tex = smooth(rng, 18)
    soft = ell(128, 128, 96, 160)
    a[soft] = 0.28 + 0.04 * tex[soft]
    if view == "sag":  # anterior to the image left
        femur = ell(138, 126, 46, 38) | ((np.abs(_X - 142) < 28) & (_Y < 126))
        tibia = (np.abs(_X - 134) < 42) & (_Y > 166)
        a[ell(86, 82, 14, 40)] = 0.9  # suprapatellar effusion
        a[ell(72, 132, 11, 24)] = 0.02
        a[ell(72, 132, 8, 21)] = 0.2  # patella
        a[ell(138, 126, 50, 42) & (_Y > 110)] = 0.45  # femoral cartilage
        a[(np.abs(_X - 134) < 42) & (_Y > 161) & (_Y <= 166)] = 0.45  # tibial cartilage
        a[femur | tibia] = 0.02
        a[ell(138, 126, 43, 35) | ((np.abs(_X - 142) < 25) & (_Y < 126))] = 0.2
        a[((np.abs(_X - 134) < 39) & (_Y > 169))] = 0.2
        a[ell(140, 122, 13, 10) & femur] = 0.62  # contusion, mid lateral femoral condyle
        a[ell(162, 178, 12, 8) & tibia] = 0.62  # contusion, posterior lateral tibial plateau
        a[ell(132, 150, 12, 8, -45)] = 0.72  # fluid where the ACL should be
        stump = layer(lambda d: d.line([(118, 166), (126, 156)], fill=255, width=5))
        a[stump > 0.5] = 0.25
    else:  # coronal, lateral side (patient right) at the image left
        femur = ell(96, 118, 30, 26) | ell(160, 118, 30, 26) | ((np.abs(_X - 128) < 44) & (_Y < 112))
        tibia = (np.abs(_X - 128) < 66) & (_Y > 160)
        a[femur | tibia] = 0.02
        a[(ell(96, 118, 27, 23) | ell(160, 118, 27, 23) | ((np.abs(_X - 128) < 41) & (_Y < 112)))] = 0.2
        a[(np.abs(_X - 128) < 63) & (_Y > 163)] = 0.2
        a[ell(128, 130, 9, 16)] = 0.72  # fluid in the notch
        a[ell(92, 124, 14, 10)] = 0.62  # lateral condyle contusion
        a[ell(90, 172, 13, 7)] = 0.6
        for x in (70, 186):
            a[ell(x, 153, 16, 4)] = 0.03  # menisci, intact
    return a


# --------------------------------------------------------------------------- DSA


def dsa(rng: np.random.Generator, view: str = "lat") -> np.ndarray:
    """Subtracted carotid angiogram: dark contrast-filled vessels on a light background."""
    a = np.full((SIZE, SIZE), 0.8) + 0.04 * smooth(rng, 10)
    mirror = view == "obl"

    def xy(x: float, y: float) -> tuple[float, float]:
        return (SIZE - x, y) if mirror else (x, y)

    segs: list[tuple[list, int]] = []
    ica = [(128, 256), (126, 205), (140, 178), (118, 158), (132, 140), (146, 128)]
    segs.append((ica, 9))
    segs.append(([(146, 128), (170, 112), (200, 96)], 6))  # middle cerebral artery
    segs.append(([(146, 128), (118, 100), (96, 70)], 5))  # anterior cerebral artery
    segs.append(([(140, 136), (172, 140), (200, 146)], 3))  # posterior communicating artery

    def branch(d: ImageDraw.ImageDraw, x: float, y: float, ang: float, length: float, width: float,
               depth: int) -> None:
        if depth == 0:
            return
        x2, y2 = x + length * math.cos(ang), y + length * math.sin(ang)
        d.line([xy(x, y), xy(x2, y2)], fill=255, width=max(1, int(round(width))))
        for turn in (-0.42, 0.38):
            branch(d, x2, y2, ang + turn + rng.uniform(-0.15, 0.15), length * rng.uniform(0.68, 0.85),
                   width * 0.7, depth - 1)

    def draw(d: ImageDraw.ImageDraw) -> None:
        for pts, w in segs:
            d.line([xy(*p) for p in pts], fill=255, width=w, joint="curve")
        branch(d, 200, 96, -0.3, 26, 4, 5)
        branch(d, 96, 70, -1.9, 24, 3.5, 4)
        branch(d, 200, 146, 0.5, 22, 2.5, 3)
        for p, r in (((146, 140), 9), ((151, 149), 3)):  # aneurysm sac and daughter lobule
            x, y = xy(*p)
            d.ellipse([x - r, y - r, x + r, y + r], fill=255)

    vessels = layer(draw)
    return a - 0.62 * vessels


# --------------------------------------------------------------------------- corpus-only generators
# Used only by the corpus cases (demo-013 on). The generators above are left alone so that the
# twelve search cases keep byte-identical images.


def xray_pneumothorax(rng: np.random.Generator) -> np.ndarray:
    """Frontal chest film with a right apical pneumothorax: a thin pleural line, no markings beyond."""
    a = xray_chest(rng, view="pa")
    lung = ell(84, 128, 44, 86) & (_Y < 200)
    collapsed = ell(96, 142, 30, 66)
    a[lung & ~collapsed] -= 0.08  # air without lung markings
    a[collapsed & lung] += 0.04  # the partly collapsed lung is a little denser
    edge = layer(lambda d: d.arc([66, 76, 126, 208], 90, 300, fill=255, width=1))
    a = np.maximum(a, 0.55 * edge * lung)
    return a


def xray_femur(rng: np.random.Generator, view: str = "ap") -> np.ndarray:
    """Adolescent distal femur: open physis, a sclerotic metaphyseal lesion with sunburst periosteal bone."""
    a = np.full((SIZE, SIZE), 0.04)
    soft = ell(128, 128, 78, 210)
    a[soft] = 0.3 + 0.03 * smooth(rng, 10)[soft]
    shaft = layer(lambda d: d.polygon([(106, 0), (150, 0), (152, 96), (170, 150), (86, 150), (104, 96)],
                                      fill=255))
    a[shaft > 0.5] = 0.85
    a[ell(128, 60, 12, 110)] = 0.62  # medullary cavity
    a[ell(128, 170, 44, 16)] = 0.78  # epiphysis below the physis
    a[(np.abs(_Y - 153) < 2) & (np.abs(_X - 128) < 42)] = 0.35  # open growth plate
    a[(np.abs(_X - 128) < 46) & (_Y > 200)] = 0.8  # proximal tibia
    a[(np.abs(_X - 128) < 46) & (_Y > 196) & (_Y <= 200)] = 0.3  # joint space
    side = 1 if view == "ap" else -1  # lateral on the AP, posterior on the lateral view
    cx = 128 + side * 30
    a += 0.3 * blob(cx - side * 6, 122, 16, 22)  # ill-defined sclerosis of the metaphysis
    mass = ell(cx + side * 34, 118, 22, 38)  # soft-tissue mass beside the bone
    a[mass] = np.maximum(a[mass], 0.42)

    def spicule(y: int) -> list[tuple[float, float]]:  # fanning out from the cortex, of uneven length
        return [(cx + side * 12, y), (cx + side * (32 + (y % 7) * 3), y + (y - 118) * 0.5)]

    spic = layer(lambda d: [d.line(spicule(y), fill=255, width=1) for y in range(92, 148, 5)])
    a = np.maximum(a, 0.9 * spic)
    codman = layer(lambda d: d.polygon([(cx + side * 12, 80), (cx + side * 12, 92), (cx + side * 20, 92)],
                                       fill=255))
    a = np.maximum(a, 0.88 * codman)
    return a


def ct_mediastinum(rng: np.random.Generator) -> np.ndarray:
    """Contrast chest CT, soft-tissue window: a lobulated anterior mediastinal nodal mass."""
    a = ct_chest(rng, window="soft", level=0)
    a[ell(112, 112, 13, 13)] = 0.86  # ascending aorta
    a[ell(146, 116, 14, 13)] = 0.86  # pulmonary trunk
    a[ell(150, 176, 11, 11)] = 0.86  # descending aorta
    mass = ell(128, 84, 34, 18) | ell(104, 92, 16, 14) | ell(154, 90, 18, 15) | ell(126, 98, 14, 10)
    a[mass] = 0.47 + 0.04 * smooth(rng, 12)[mass]
    for x, y in ((84, 112), (176, 112)):
        a[ell(x, y, 7, 6)] = 0.46  # hilar nodes
    return a


def _mca_territory(k: float = 1.0) -> np.ndarray:
    """Left MCA territory (image right) of an axial brain slice centred on (128, 128)."""
    ang = np.degrees(np.arctan2(_Y - 128, _X - 128))
    return ell(128, 128, 85 * k, 103 * k) & ~ell(134, 128, 34, 52) & (ang > -55) & (ang < 40)


def ct_head_stroke(rng: np.random.Generator) -> np.ndarray:
    """Non-contrast head CT: hypodense left MCA territory and a hyperdense left MCA."""
    a = ct_head(rng, slice=0, sdh=False)
    a[_mca_territory()] = 0.35
    vessel = layer(lambda d: d.line([(140, 140), (168, 132)], fill=255, width=3))
    a[vessel > 0.5] = 0.7
    return a


def mri_stroke(rng: np.random.Generator, seq: str = "dwi") -> np.ndarray:
    """Axial diffusion MRI of an acute left MCA infarct: bright on DWI, dark on the ADC map."""
    s = dict(fat=0.08, csf=0.05, grey=0.46, white=0.4, lesion=0.95) if seq == "dwi" else \
        dict(fat=0.05, csf=0.95, grey=0.55, white=0.5, lesion=0.16)
    a = np.zeros((SIZE, SIZE))
    tex = smooth(rng, 22)
    a[ell(128, 128, 100, 118)] = s["fat"]
    a[ell(128, 128, 88, 106)] = s["csf"]
    grey = ell(128, 128, 85, 103)
    a[grey] = s["grey"] + 0.03 * tex[grey]
    white = ell(128, 128, 68, 87)
    a[white] = s["white"] + 0.02 * tex[white]
    a[ell(117, 122, 8, 27, -10) | ell(139, 122, 8, 27, 10)] = s["csf"]
    a[_mca_territory()] = s["lesion"] + 0.03 * tex[_mca_territory()]
    return a


def ct_abdo(rng: np.random.Generator, finding: str = "") -> np.ndarray:
    """Axial contrast CT of the upper abdomen (liver, spleen, kidneys) or, for 'stone'/'aaa', lower down.

    finding: 'hcc_arterial' / 'hcc_portal' (cirrhotic liver with a lesion that enhances then washes out),
    'hydro' (dilated right renal pelvis), 'stone' (calculus in the right ureter), 'aaa' (aortic aneurysm).
    """
    a = np.zeros((SIZE, SIZE))
    tex = smooth(rng, 18)
    a[ell(128, 130, 114, 90)] = 0.22
    inside = ell(128, 130, 106, 82)
    a[inside] = 0.27 + 0.03 * tex[inside]
    upper = finding not in ("stone", "aaa")
    arterial = finding == "hcc_arterial"
    if upper:
        liver = ell(84, 112, 56, 50) & inside
        if finding.startswith("hcc"):
            for t in np.arange(0, 6.3, 0.5):  # bites out of the outline: a nodular, cirrhotic surface
                liver &= ~ell(84 + 56 * math.cos(t), 112 + 50 * math.sin(t), 6, 6)
        a[liver] = (0.42 if arterial else 0.52) + 0.03 * tex[liver]
        a[ell(198, 118, 20, 32) & inside] = 0.5  # spleen
        a[ell(160, 86, 28, 18)] = 0.3  # stomach
        if finding.startswith("hcc"):
            lesion = ell(72, 100, 19, 17)
            a[lesion] = 0.74 + 0.05 * tex[lesion] if arterial else 0.36
            if not arterial:
                a[ell(72, 100, 21, 19) & ~lesion] = 0.62  # enhancing capsule
    for x, ang in ((88, 20), (168, -20)):  # kidneys
        y = 174 if upper else 150
        if upper or finding == "stone":
            a[ell(x, y, 19, 26, ang)] = 0.62 if not arterial else 0.7
            a[ell(x + (6 if x < 128 else -6), y, 7, 10, ang)] = 0.3  # sinus
    if finding == "hydro":
        a[ell(98, 174, 12, 14, 20)] = 0.18
        for dx, dy in ((-10, -14), (-12, 12), (-16, 0)):
            a[ell(88 + dx, 174 + dy, 5, 5)] = 0.18
        a[ell(78, 178, 30, 34, 20) & ~ell(88, 174, 19, 26, 20) & inside] += 0.05  # perinephric stranding
    a[ell(112, 160, 9, 7)] = 0.6  # inferior vena cava
    if finding == "aaa":
        a[ell(138, 156, 30, 28)] = 0.44  # mural thrombus
        a[ell(144, 152, 17, 16)] = 0.88  # residual lumen
        rim = ell(138, 156, 31, 29) & ~ell(138, 156, 29, 27) & (_X > 150)
        a[rim] = 1.0
    else:
        a[ell(136, 164, 10, 10)] = 0.88 if arterial else 0.7
    a[ell(128, 192, 15, 14)] = 0.95
    a[ell(128, 213, 5, 5)] = 0.4
    a[ell(104, 186, 11, 14) | ell(152, 186, 11, 14)] = 0.46  # psoas
    if finding == "stone":
        stranding = (blob(100, 176, 12, 10) > 0.4) & inside
        a[stranding] = np.maximum(a[stranding], 0.33)
        a[ell(100, 176, 6, 6)] = 0.4  # ureteric wall
        a[ell(100, 176, 2.5, 2.5)] = 1.0  # calculus
    return a


def ct_neck(rng: np.random.Generator) -> np.ndarray:
    """Contrast CT of the neck at the oropharynx: rim-enhancing collection in the left peritonsillar space."""
    a = np.zeros((SIZE, SIZE))
    tex = smooth(rng, 16)
    a[ell(128, 132, 98, 86)] = 0.24
    inside = ell(128, 132, 92, 80)
    a[inside] = 0.4 + 0.03 * tex[inside]
    a[ell(128, 178, 20, 17)] = 0.95  # vertebral body
    a[ell(128, 200, 9, 7)] = 0.45  # spinal canal
    mandible = layer(lambda d: d.arc([52, 40, 204, 150], 200, 340, fill=255, width=7))
    a = np.maximum(a, 0.95 * mandible)
    a[ell(150, 122, 20, 17)] = 0.55  # oedema around the collection
    a[ell(150, 122, 16, 13)] = 0.72  # enhancing rim
    a[ell(150, 122, 12, 10)] = 0.2  # fluid
    a[ell(114, 124, 12, 8)] = 0.0  # oropharyngeal airway, pushed to the patient's right
    for sx in (-1, 1):
        a[ell(128 + sx * 52, 150, 7, 7)] = 0.86  # internal carotid arteries
        a[ell(128 + sx * 62, 158, 9, 8)] = 0.7  # internal jugular veins
    return a


def pet_mip(rng: np.random.Generator, pattern: str = "lymphoma") -> np.ndarray:
    """FDG PET maximum-intensity projection, inverted grey (uptake dark): physiological uptake plus nodes."""
    up = np.zeros((SIZE, SIZE))
    body = ell(128, 30, 20, 24) | ((np.abs(_X - 128) < 11) & (_Y < 64)) | ell(128, 140, 62, 84) \
        | ((np.abs(_X - 104) < 20) & (_Y > 180)) | ((np.abs(_X - 152) < 20) & (_Y > 180))
    up[body] = 0.07 + 0.03 * smooth(rng, 12)[body]
    up = np.maximum(up, 0.95 * blob(128, 26, 13, 15))  # brain
    up = np.maximum(up, 0.3 * blob(140, 104, 14, 12))  # myocardium
    up = np.maximum(up, 0.22 * blob(104, 124, 22, 18))  # liver
    for x in (108, 148):
        up = np.maximum(up, 0.5 * blob(x, 150, 6, 10))  # kidneys
    up = np.maximum(up, 0.95 * blob(128, 205, 11, 8))  # bladder
    if pattern == "lymphoma":
        for x, y, s in ((146, 52, 4), (150, 62, 4.5), (144, 72, 4), (110, 60, 3.5)):  # cervical nodes
            up = np.maximum(up, 0.85 * blob(x, y, s))
        up = np.maximum(up, 0.9 * (blob(128, 88, 14, 10) + 0.6 * blob(116, 96, 8)))  # mediastinal mass
        for x in (112, 146):
            up = np.maximum(up, 0.7 * blob(x, 98, 4))  # hilar nodes
    return 1.0 - np.clip(up, 0, 1)


def scintigraphy(rng: np.random.Generator, target: str = "thyroid", view: str = "ant") -> np.ndarray:
    """Planar gamma-camera image, uptake dark. 'thyroid': diffuse uptake; 'bone': whole body, metastases."""
    up = 0.04 * smooth(rng, 20)
    if target == "thyroid":
        lobes = ell(100, 132, 22, 44, 12) | ell(156, 132, 22, 44, -12) | ell(128, 156, 20, 10)
        up[lobes] = 0.85 + 0.05 * smooth(rng, 10)[lobes]
        for x in (70, 186):
            up = np.maximum(up, 0.12 * blob(x, 40, 14))  # faint salivary glands
        up = np.maximum(up, 0.35 * blob(128, 16, 18, 10))  # mouth
    else:
        sk = layer(lambda d: [
            d.ellipse([108, 2, 148, 44], outline=255, width=5),  # skull
            d.line([(128, 46), (128, 150)], fill=255, width=7),  # spine
            *[d.arc([92 - 3 * i, 56 + 11 * i, 164 + 3 * i, 76 + 11 * i], 0, 180, fill=255, width=3)
              for i in range(8)],  # ribs
            d.ellipse([96, 150, 160, 188], outline=255, width=6),  # pelvis
            d.line([(100, 56), (72, 122)], fill=255, width=6),  # humeri
            d.line([(156, 56), (184, 122)], fill=255, width=6),
            d.line([(110, 184), (104, 256)], fill=255, width=8),  # femora
            d.line([(146, 184), (152, 256)], fill=255, width=8),
        ])
        up = np.maximum(up, (0.34 if view == "ant" else 0.42) * sk)
        up = np.maximum(up, 0.8 * blob(128, 178, 7, 6))  # bladder
        for x in (110, 146):
            up = np.maximum(up, 0.25 * blob(x, 120, 5, 8))  # kidneys
        mets = ((128, 82, 4), (128, 118, 5), (128, 136, 4), (100, 94, 3), (158, 110, 3.5), (108, 164, 5),
                (150, 170, 4), (106, 214, 4))
        for x, y, s in mets:
            up = np.maximum(up, 0.95 * blob(x if view == "ant" else 256 - x, y, s))
    return 1.0 - np.clip(up, 0, 1)


def fluoroscopy(rng: np.random.Generator, study: str = "swallow", phase: int = 0) -> np.ndarray:
    """Fluoroscopic spot image, contrast bright. 'swallow': achalasia (dilated oesophagus, bird's beak),
    the barium level falling with `phase`; 'mcug': bladder with reflux up a dilated right ureter."""
    a = 0.42 + 0.05 * smooth(rng, 10)
    if study == "swallow":
        for y in range(8, 256, 26):
            a[ell(164, y, 18, 10)] = 0.55  # vertebral bodies, off to one side
        oes = layer(lambda d: d.line([(118, 0), (112, 80), (120, 170), (132, 204)], fill=255, width=46,
                                     joint="curve"))
        beak = layer(lambda d: d.polygon([(112, 200), (152, 200), (136, 236), (134, 236)], fill=255))
        lumen = (oes > 0.5) | (beak > 0.5)
        level = 70 + 12 * phase
        a[lumen & (_Y < level)] = 0.2  # air above the barium
        a[lumen & (_Y >= level)] = 0.95
        a[ell(150, 250, 40, 14)] = 0.3  # gastric fundus gas, little barium passing
        if phase % 3 == 2:
            a[(np.abs(_X - 135) < 1.5) & (_Y > 236) & (_Y < 246)] = 0.9  # a thin jet through the beak
    else:
        for y in range(8, 180, 26):
            a[ell(128, y, 16, 10)] = 0.55
        a[ell(128, 214, 40, 30)] = 0.95  # bladder
        a[(np.abs(_X - 128) < 1.5) & (_Y > 236)] = 0.8  # catheter
        reach = 60 if phase == 0 else 0  # early: lower ureter; late: up to the kidney
        ureter = layer(lambda d: d.line([(108, 196), (96, 170), (104, 140), (90, 110), (98, 80), (88, 60)],
                                        fill=255, width=9, joint="curve"))
        a[(ureter > 0.5) & (_Y > 60 + reach * 1.6)] = 0.9
        if phase:
            a[ell(80, 46, 20, 16)] = 0.9  # dilated pelvis
            for x, y in ((62, 30), (70, 62), (96, 26)):
                a[ell(x, y, 8, 7)] = 0.9  # blunted calyces
    return a


def echocardiogram(rng: np.random.Generator, view: str = "plax", effusion: bool = True) -> np.ndarray:
    """Transthoracic echo, sector from the top: chambers dark, myocardium grey, a circumferential effusion."""
    echo = np.full((SIZE, SIZE), 0.3)
    if view == "plax":
        sac, heart = ell(124, 128, 118, 72, -8), ell(124, 124, 104, 58, -8)
        echo[sac] = 0.9  # pericardium
        echo[ell(124, 128, 114, 68, -8)] = 0.02 if effusion else 0.55
        echo[heart] = 0.45
        echo[ell(108, 84, 70, 12, -8)] = 0.03  # right ventricle
        echo[ell(104, 132, 64, 22, -8)] = 0.03  # left ventricle
        echo[ell(196, 104, 20, 13)] = 0.03  # aortic root
        echo[ell(194, 146, 22, 18)] = 0.03  # left atrium
    else:  # apical four-chamber, apex at the top
        echo[ell(128, 150, 96, 116)] = 0.9
        echo[ell(128, 150, 92, 112)] = 0.02 if effusion else 0.55
        echo[ell(128, 150, 80, 100)] = 0.45
        echo[ell(98, 118, 20, 46)] = 0.03  # right ventricle (image left)
        echo[ell(158, 114, 24, 54)] = 0.03  # left ventricle
        echo[ell(100, 206, 22, 22) & ~ell(70, 206, 16, 18)] = 0.03  # right atrium, free wall collapsing
        echo[ell(158, 206, 24, 22)] = 0.03  # left atrium
    return _fan(rng, echo, cells=72)


def sono(rng: np.random.Generator, target: str, view: str = "long") -> np.ndarray:
    """More ultrasound targets for the corpus cases, drawn like ultrasound() (fan, speckle, shadows)."""
    echo = np.full((SIZE, SIZE), 0.5)
    shadows: list[tuple[float, float, float]] = []
    if target == "kidney":  # long axis, hydronephrosis
        echo[ell(128, 130, 92, 46, -8)] = 0.62
        echo[ell(128, 130, 84, 39, -8)] = 0.38
        echo[ell(128, 132, 58, 22, -8)] = 0.95
        pelvis = layer(lambda d: [d.line([(140, 136), (x, y)], fill=255, width=9)
                                  for x, y in ((86, 118), (102, 148), (160, 116), (176, 140))])
        echo[(pelvis > 0.5) | ell(142, 136, 22, 13, -8)] = 0.03
        for x, y in ((86, 118), (102, 148), (160, 116), (176, 140)):
            echo[ell(x, y, 10, 8)] = 0.03
    elif target == "thyroid":  # transverse; enlarged, hypoechoic, heterogeneous lobes
        tex = smooth(rng, 24)
        echo[_Y < 60] = 0.4
        for sx in (-1, 1):
            lobe = ell(128 + sx * 52, 128, 40, 34)
            echo[lobe] = (0.22 + 0.2 * tex)[lobe]
            echo[ell(128 + sx * 100, 136, 13, 13)] = 0.03  # common carotid arteries
        echo[ell(128, 104, 34, 12)] = 0.3  # isthmus
        echo[ell(128, 142, 22, 20) & ~ell(128, 146, 19, 18)] = 1.4  # tracheal ring
        shadows.append(_shadow(128, 142, 20))
    elif target == "fibroadenoma":
        tex = smooth(rng, 20)
        echo[_Y < 70] = 0.32
        glandular = (_Y >= 70) & (_Y < 190)
        echo[glandular] = (0.55 + 0.25 * tex)[glandular]
        echo[_Y >= 190] = 0.36  # pectoral muscle
        echo[ell(128, 122, 38, 20)] = 0.9  # thin echogenic capsule
        echo[ell(128, 122, 36, 18)] = 0.2
        below = (np.abs(_X - 128) < 30) & (_Y > 142) & (_Y < 190)
        echo[below] *= 1.3  # posterior acoustic enhancement
    elif target == "aorta":  # transverse, aneurysm with mural thrombus
        echo[ell(150, 124, 54, 52)] = 0.9
        echo[ell(150, 124, 51, 49)] = 0.34
        echo[ell(160, 116, 32, 30)] = 0.03
        echo[ell(82, 120, 18, 8)] = 0.04  # flattened inferior vena cava
        echo[ell(128, 212, 34, 12)] = 1.5  # vertebral body
        shadows.append(_shadow(128, 212, 32))
    elif target == "liver":  # cirrhosis with ascites
        tex = smooth(rng, 28)
        surface = 96 + 6 * np.sin(_X / 9.0) + 4 * np.sin(_X / 4.0 + 1.0)
        echo[_Y < surface] = 0.03
        echo[_Y < 50] = 0.45  # abdominal wall
        liver = _Y >= surface
        echo[liver] = (0.42 + 0.35 * tex)[liver]
        echo[ell(150, 190, 14, 9)] = 0.04  # portal vein
    elif target == "dvt":  # transverse common femoral vessels; view 'compress' = probe pressed
        lift = 10 if view == "compress" else 0
        echo[_Y < 70 - lift] = 0.38
        echo[ell(104, 126 - lift, 14, 14)] = 0.9
        echo[ell(104, 126 - lift, 11, 11)] = 0.03  # artery
        echo[ell(156, 132 - lift, 26, 20)] = 0.85
        echo[ell(156, 132 - lift, 23, 17)] = 0.34 + 0.1 * smooth(rng, 12)[ell(156, 132 - lift, 23, 17)]
    elif target == "intussusception":
        if view == "trans":
            for r, v in ((38, 0.2), (31, 0.8), (24, 0.18), (16, 0.85), (9, 0.25)):
                echo[ell(128, 128, r, r)] = v
            echo[ell(118, 122, 14, 8, 30)] = 0.95  # trapped mesenteric fat
        else:
            for r, v in ((36, 0.2), (29, 0.8), (22, 0.18), (12, 0.85)):
                echo[ell(128, 128, 90 * r / 36, r, -6)] = v
    return _fan(rng, echo, shadows)


def oct_bscan(rng: np.random.Generator, lesion: str = "csr") -> np.ndarray:
    """Macular OCT B-scan: retinal layers over the RPE; 'csr' subretinal fluid, 'dme' intraretinal cysts."""
    a = np.full((SIZE, SIZE), 0.04)
    x = _X[0]
    pit = np.exp(-(((x - 128) / 24) ** 2))
    rpe = 168 - 0.0006 * (x - 128) ** 2
    lift = 26 * np.exp(-(((x - 128) / 44) ** 2)) if lesion == "csr" else 0 * x
    thick = 64 - 34 * pit + (22 * np.exp(-(((x - 128) / 50) ** 2)) if lesion == "dme" else 0)
    top = rpe - lift - thick
    depth = (_Y - top[None, :]) / thick[None, :]  # 0 at the inner surface, 1 at the photoreceptors
    bands = ((0.0, 0.12, 0.8), (0.12, 0.38, 0.5), (0.38, 0.5, 0.26), (0.5, 0.58, 0.55), (0.58, 0.92, 0.2),
             (0.92, 1.0, 0.75))
    for lo, hi, v in bands:
        a[(depth >= lo) & (depth < hi)] = v
    if lesion == "csr":
        a[(_Y >= (rpe - lift)[None, :]) & (_Y < rpe[None, :] - 1)] = 0.04  # subretinal fluid
    if lesion == "dme":
        for cx, cy, rx, ry in ((116, 130, 9, 7), (138, 126, 10, 8), (100, 136, 6, 5), (154, 134, 6, 5)):
            a[ell(cx, cy, rx, ry)] = 0.05
    a[np.abs(_Y - rpe[None, :]) < 3] = 0.97
    choroid = _Y > rpe[None, :] + 3
    a[choroid] = (0.35 + 0.25 * smooth(rng, 30))[choroid] * np.clip(1 - (_Y - 175) / 90, 0.1, 1)[choroid]
    field = Image.fromarray(rng.random((96, 96)).astype(np.float32)).resize((SIZE, SIZE), Image.BILINEAR)
    return a * (0.55 + 0.9 * np.asarray(field, dtype=np.float64))


def fundus(rng: np.random.Generator, eye: str = "right", lesion: str = "dr") -> np.ndarray:
    """Fundus photograph in grey: disc, vessels and macula; 'dr' adds haemorrhages, exudates, cotton wool."""
    disc_x = 186 if eye == "right" else 70
    temporal = -1 if eye == "right" else 1
    r = np.hypot(_X - 128, _Y - 128)
    a = (0.5 + 0.08 * smooth(rng, 12)) * (1 - 0.3 * (r / 120) ** 2)
    mac_x = 128 + temporal * 14
    a -= 0.12 * blob(mac_x, 128, 14)
    a = np.maximum(a, 0.95 * (ell(disc_x, 124, 15, 17) > 0))
    a[ell(disc_x + 2, 124, 6, 7)] = 1.0  # cup

    def arcade(d: ImageDraw.ImageDraw) -> None:
        for sy in (-1, 1):
            pts = [(disc_x, 124), (disc_x + temporal * 40, 124 + sy * 40), (mac_x, 128 + sy * 52),
                   (mac_x + temporal * 70, 128 + sy * 36)]
            d.line(pts, fill=255, width=4, joint="curve")
            d.line([(disc_x, 124), (disc_x - temporal * 36, 124 + sy * 56)], fill=255, width=3)
            for t in (0.3, 0.6):
                x0 = disc_x + temporal * 40 * t * 2
                y0 = 124 + sy * 46 * t * 1.6
                d.line([(x0, y0), (x0 + temporal * 30, y0 - sy * 22)], fill=255, width=2)

    a -= 0.28 * layer(arcade)
    if lesion == "dr":
        pts = rng.uniform(50, 206, (22, 2))
        for x, y in pts:
            if math.hypot(x - 128, y - 128) < 100:
                a[ell(x, y, 2.2, 2.2)] = 0.18  # dot-blot haemorrhages
        for t in np.linspace(0, 2 * math.pi, 14, endpoint=False):  # circinate ring of exudates
            a[ell(mac_x + temporal * 6 + 24 * math.cos(t), 128 + 18 * math.sin(t), 2, 2)] = 0.92
        for x, y in ((150, 86), (104, 176)):
            a = np.maximum(a, 0.78 * (blob(x, y, 6, 4) > 0.5))  # cotton-wool spots
    return np.where(r < 120, a, 0.0)


def endoscopy(rng: np.random.Generator, lesion: str = "ulcer", shot: int = 0) -> np.ndarray:
    """Endoscopic view, lit from the tip: bright mucosa near the lens, the dark lumen further away."""
    r = np.hypot(_X - 128, _Y - 128)
    lx, ly = 128 + 30 * math.cos(shot), 110 + 20 * math.sin(shot)
    a = (0.52 + 0.12 * smooth(rng, 16)) * (0.6 + 0.4 * np.clip(np.hypot(_X - lx, _Y - ly) / 110, 0, 1))
    a -= 0.5 * blob(lx, ly, 20, 16)
    folds = layer(lambda d: [d.arc([lx - s, ly - s * 0.8, lx + s, ly + s * 0.8], 200 + 13 * i, 330 + 9 * i,
                                   fill=255, width=3) for i, s in enumerate((40, 64, 90))])
    a += 0.12 * folds
    if lesion == "ulcer":
        cx, cy = 150 + 8 * shot, 176 - 6 * shot
        a[ell(cx, cy, 24, 18)] = 0.35  # hyperaemic rim
        a[ell(cx, cy, 19, 14)] = 0.9  # clean fibrin base
        a[ell(cx - 4, cy - 3, 2.5, 2.5)] = 0.2  # flat pigmented spot
    elif lesion == "varices":
        cols = layer(lambda d: [d.line([(lx, ly), (lx + 140 * math.cos(t), ly + 140 * math.sin(t))],
                                       fill=255, width=16) for t in (0.6, 1.9, 3.3, 4.6)])
        a = np.where(cols > 0.5, 0.4 + 0.3 * cols, a)
        spot = ell(lx + 60 * math.cos(1.9), ly + 60 * math.sin(1.9), 3.5, 3.5)
        a[spot] = 0.15  # red wale sign
    elif lesion == "polyp":
        a[ell(92, 168, 24, 22)] = 0.7
        a[ell(92, 168, 24, 22) & (_X > 100)] = 0.58  # shaded side
        a[ell(84, 160, 4, 3)] = 1.0  # light reflex
        stalk = layer(lambda d: d.line([(92, 188), (80, 230)], fill=255, width=10))
        a = np.maximum(a, 0.5 * stalk)
    return np.where(r < 124, a, 0.0)


# --------------------------------------------------------------------------- the cases

# Each group: (modality folder name, [(generator, kwargs), ...], findings written as a report).
# systems, notes (per group, per image: description and caption keywords) and discussion are used by
# corpus.jsonl only; cases.jsonl is written from the other fields.
CASES: list[dict] = [
    dict(
        scenario="patient_to_doctor", title="Acute subdural haematoma", certainty="Diagnosis certain",
        age="78 years", gender="Male",
        presentation=("Slipped on an icy step two days ago and struck the back of his head; since this "
                      "morning increasingly drowsy with a worsening headache and one episode of vomiting. "
                      "Takes warfarin for atrial fibrillation."),
        question=("My grandfather is on blood thinners and banged his head when he fell on the ice. The "
                  "doctor said the scan shows something pressing on his brain. Is he bleeding inside his "
                  "head?"),
        answer="Yes",
        groups=[("ct", [(ct_head, dict(slice=0)), (ct_head, dict(slice=1))],
                 ("non-contrast axial CT of the head shows a crescent-shaped hyperdense extra-axial "
                  "collection along the right fronto-parietal convexity, up to 11 mm thick, following the "
                  "inner table of the skull without crossing the midline. The adjacent sulci are effaced, "
                  "the right lateral ventricle is compressed and there is a 6 mm leftward midline shift. No "
                  "skull fracture is seen."))],
        systems=["Central nervous system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Axial slice at the level of the lateral ventricles: a bright crescent hugs the right "
               "convexity and the right lateral ventricle is narrowed."),
              ("crescent-shaped hyperdense extra-axial collection",
               "right lateral ventricle is compressed",
               "6 mm leftward midline shift")),
             (("Higher axial slice: the collection continues over the right fronto-parietal convexity and "
               "the sulci beneath it are effaced."),
              ("right fronto-parietal convexity", "adjacent sulci are effaced"))],
        ],
        discussion=("An acute subdural haematoma arises from tearing of the bridging veins that cross from "
                    "the cortex to the dural venous sinuses, usually after a fall or a blow to the head. "
                    "Older adults are predisposed because cerebral atrophy stretches these veins, and "
                    "anticoagulation makes even minor trauma dangerous. On CT fresh blood is hyperdense and "
                    "forms a crescent that crosses suture lines but not dural reflections such as the falx, "
                    "which separates it from the lens-shaped epidural haematoma. Midline shift and effaced "
                    "sulci indicate mass effect, so anticoagulation is reversed at once and a neurosurgeon "
                    "is consulted. A thick collection with shift is usually evacuated by craniotomy."),
    ),
    dict(
        scenario="doctor_to_doctor", title="Post-primary pulmonary tuberculosis",
        certainty="Diagnosis probable",
        age="34 years", gender="Male",
        presentation=("Six weeks of productive cough, drenching night sweats and 5 kg weight loss, with "
                      "occasional blood-streaked sputum; returned three months ago from a long stay in a "
                      "high-incidence region."),
        question=("A 34-year-old man has had a productive cough, night sweats and weight loss for six weeks. "
                  "Imaging shows a thick-walled cavity in the apical segment of the right upper lobe with "
                  "surrounding centrilobular tree-in-bud nodules and no hilar mass. What is the most likely "
                  "diagnosis?"),
        answer="Post-primary (reactivation) pulmonary tuberculosis",
        groups=[("xray", [(xray_chest, dict(view="pa", lesion="tb"))],
                 ("the frontal chest radiograph shows a patchy opacity in the right upper zone containing a "
                  "rounded lucency of about 3 cm with a thick, irregular wall and no air-fluid level. The "
                  "left lung is clear, the heart is of normal size and there is no pleural effusion.")),
                ("ct", [(ct_chest, dict(window="lung", level=0, lesion="tb")),
                        (ct_chest, dict(window="lung", level=1, lesion="tb"))],
                 ("axial CT of the chest in lung window shows a 32 mm cavity with a wall up to 6 mm thick in "
                  "the apical segment of the right upper lobe. Numerous centrilobular nodules with a "
                  "branching tree-in-bud pattern surround the cavity and extend into the superior segment of "
                  "the right lower lobe. There is no mass, lymph node enlargement or pleural effusion."))],
        systems=["Respiratory system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Frontal chest film: a thick-walled cavity sits in the right upper zone; the left lung and "
               "the heart look normal."),
              ("patchy opacity in the right upper zone",
               "rounded lucency of about 3 cm",
               "thick, irregular wall"))],
            [(("Upper axial slice through the right upper lobe: a round cavity with a thick wall, ringed by "
               "small branching nodules."),
              ("32 mm cavity", "apical segment of the right upper lobe", "tree-in-bud pattern")),
             (("Lower axial slice: clusters of small centrilobular nodules in the right lower lobe, without "
               "a cavity."),
              ("centrilobular nodules", "superior segment of the right lower lobe"))],
        ],
        discussion=("Post-primary tuberculosis usually reflects reactivation of a dormant focus acquired "
                    "years earlier, and it favours the apical and posterior segments of the upper lobes and "
                    "the superior segments of the lower lobes, where oxygen tension is high. Caseous "
                    "necrosis that drains into a bronchus leaves a thick-walled cavity, and spread of "
                    "infected material along the small airways produces the tree-in-bud pattern of "
                    "centrilobular nodules. A cavity makes the patient highly infectious, so airborne "
                    "isolation should start before the diagnosis is confirmed. Sputum smear, nucleic acid "
                    "amplification and culture establish the diagnosis and the drug susceptibility. A "
                    "cavitating carcinoma is the main differential and is favoured by an eccentric, nodular "
                    "wall without satellite nodules."),
    ),
    dict(
        scenario="intern_to_senior", title="Acute calculous cholecystitis", certainty="Diagnosis certain",
        age="52 years", gender="Female",
        presentation=("Constant right upper quadrant pain for 18 hours that began after a fatty meal, with "
                      "nausea and a temperature of 38.4 degrees C."),
        question=("While scanning this gallbladder the patient flinched sharply when I pressed the probe "
                  "directly over the gallbladder, but not anywhere else in the abdomen. What is this finding "
                  "called?"),
        answer="Positive sonographic Murphy sign",
        groups=[("ultrasound", [(ultrasound, dict(target="gallbladder", view="long")),
                                (ultrasound, dict(target="gallbladder", view="trans"))],
                 ("right upper quadrant ultrasound shows a distended gallbladder with a diffusely thickened "
                  "wall of 5 mm and a thin rim of pericholecystic fluid. A 14 mm echogenic focus in the "
                  "gallbladder neck casts a clean posterior acoustic shadow and does not move when the "
                  "patient turns, suggesting impaction. Maximal tenderness is elicited under the transducer "
                  "over the gallbladder. The common bile duct measures 4 mm."))],
        systems=["Hepatobiliary system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Long-axis view of the gallbladder: a thick wall, a dark rim of fluid beneath it and a "
               "shadowing stone near the neck."),
              ("diffusely thickened wall",
               "thin rim of pericholecystic fluid",
               "casts a clean posterior acoustic shadow")),
             (("Transverse view: the stone lies in the dependent part of the gallbladder with a dark shadow "
               "behind it."),
              ("14 mm echogenic focus", "posterior acoustic shadow"))],
        ],
        discussion=("Acute calculous cholecystitis begins when a stone obstructs the cystic duct or the "
                    "gallbladder neck, leading to distension, chemical irritation of the wall and often "
                    "secondary bacterial infection. Ultrasound is the first-line test: an impacted stone, a "
                    "wall thicker than 3 mm, pericholecystic fluid and a positive sonographic Murphy sign "
                    "together make the diagnosis very likely. A common bile duct of normal calibre argues "
                    "against a stone in the duct. Treatment is fluids, analgesia and antibiotics, followed "
                    "by laparoscopic cholecystectomy during the same admission in patients fit for surgery."),
    ),
    dict(
        scenario="patient_to_doctor", title="Invasive ductal carcinoma of the left breast",
        certainty="Diagnosis probable", age="57 years", gender="Female",
        presentation=("Noticed a firm, painless lump in the upper outer part of the left breast a month ago; "
                      "her mother had breast cancer at 60. No nipple discharge."),
        question=("My mammogram report says there is a spiky lump in my left breast. Does that mean I "
                  "definitely have breast cancer?"),
        answer="Cannot be determined",
        groups=[("mammography", [(mammography, dict(view="cc")), (mammography, dict(view="mlo"))],
                 ("craniocaudal and mediolateral oblique views of the left breast show an irregular "
                  "high-density mass of about 18 mm with spiculated margins in the upper outer quadrant, "
                  "roughly 6 cm from the nipple, with mild distortion of the surrounding architecture. There "
                  "are no associated microcalcifications and no skin thickening. The breast tissue is "
                  "heterogeneously dense. Assessment BI-RADS 5; tissue sampling is recommended."))],
        systems=["Breast", "Oncology"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Craniocaudal view: an irregular dense mass with radiating spicules in the outer half of the "
               "left breast."),
              ("irregular high-density mass", "spiculated margins")),
             (("Mediolateral oblique view: the same spiculated mass lies above the level of the nipple, in "
               "front of the pectoral muscle."),
              ("upper outer quadrant", "spiculated margins"))],
        ],
        discussion=("A spiculated mass is the mammographic finding most strongly associated with invasive "
                    "carcinoma, because the spicules represent tumour extension and a desmoplastic reaction "
                    "in the surrounding stroma. The upper outer quadrant is the commonest site simply "
                    "because it holds the most glandular tissue. BI-RADS 5 denotes a probability of "
                    "malignancy of at least 95%, yet the diagnosis still rests on histology, usually from an "
                    "ultrasound-guided core biopsy. Dense breast tissue lowers the sensitivity of "
                    "mammography, so targeted ultrasound of the breast and axilla is added. A mother with "
                    "breast cancer raises the risk but does not change the work-up of a suspicious mass."),
    ),
    dict(
        scenario="doctor_to_doctor", title="Complete anterior cruciate ligament tear",
        certainty="Diagnosis certain",
        age="24 years", gender="Male",
        presentation=("Felt a pop while changing direction during a football match yesterday; the knee "
                      "swelled within two hours and now gives way when he puts weight on it."),
        question=("A 24-year-old footballer twisted his right knee on a planted foot, felt a pop and "
                  "developed rapid swelling. MRI shows bone marrow oedema in the lateral femoral condyle and "
                  "the posterior lateral tibial plateau with a large joint effusion. Which ligament injury "
                  "best explains this pattern?"),
        answer="Complete anterior cruciate ligament tear",
        groups=[("mri", [(mri_knee, dict(view="sag")), (mri_knee, dict(view="cor"))],
                 ("sagittal and coronal proton-density fat-suppressed images of the right knee show no "
                  "continuous fibres of the anterior cruciate ligament, which is replaced by ill-defined "
                  "fluid signal in the intercondylar notch with only a short tibial stump. Kissing bone "
                  "contusions lie in the mid lateral femoral condyle and the posterior lateral tibial "
                  "plateau. A large effusion distends the suprapatellar recess. The posterior cruciate "
                  "ligament and both menisci are intact."))],
        systems=["Musculoskeletal system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Sagittal image: fluid signal fills the notch where the ligament should run, with bright "
               "contusions in the lateral femoral condyle and the back of the tibial plateau and a large "
               "suprapatellar effusion."),
              ("ill-defined fluid signal in the intercondylar notch",
               "short tibial stump",
               "Kissing bone contusions",
               "large effusion distends the suprapatellar recess")),
             (("Coronal image: bright marrow oedema in the lateral condyle and the lateral plateau; both "
               "menisci are dark and intact."),
              ("mid lateral femoral condyle", "both menisci are intact"))],
        ],
        discussion=("The anterior cruciate ligament restrains forward translation and rotation of the tibia, "
                    "and it typically tears in a non-contact pivoting injury on a planted foot. At the "
                    "moment of injury the tibia subluxes forwards and the lateral femoral condyle strikes "
                    "the posterior lateral tibial plateau, leaving the characteristic kissing contusions. A "
                    "pop followed by rapid swelling from a haemarthrosis is a classic clinical clue. MRI "
                    "also looks for associated meniscal and collateral ligament injuries, which influence "
                    "management. Young athletes who want to return to pivoting sports are usually offered "
                    "reconstruction after a period of rehabilitation."),
    ),
    dict(
        scenario="intern_to_senior", title="Posterior communicating artery aneurysm",
        certainty="Diagnosis certain",
        age="49 years", gender="Female",
        presentation=("Sudden, explosive headache while lifting a heavy box, followed by neck stiffness and "
                      "vomiting; same-day CT showed blood in the basal cisterns."),
        question=("On this left internal carotid angiogram, what is the rounded outpouching arising where "
                  "the posterior communicating artery leaves the internal carotid artery?"),
        answer="Saccular posterior communicating artery aneurysm",
        groups=[("dsa", [(dsa, dict(view="lat")), (dsa, dict(view="obl"))],
                 ("digital subtraction angiography after left internal carotid artery injection, lateral and "
                  "oblique projections, shows a 7 mm saccular aneurysm with a 3 mm neck arising from the "
                  "supraclinoid internal carotid artery at the origin of the posterior communicating artery, "
                  "projecting posteriorly and inferiorly, with a small daughter lobule at its dome. The "
                  "anterior and middle cerebral arteries fill normally and no second aneurysm is seen."))],
        systems=["Central nervous system", "Vascular system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Lateral projection: a rounded contrast-filled sac with a small lobule arises from the "
               "carotid siphon where the posterior communicating artery leaves it."),
              ("7 mm saccular aneurysm",
               "small daughter lobule",
               "origin of the posterior communicating artery")),
             (("Oblique projection, mirrored: the neck of the aneurysm is seen against the parent artery, "
               "and the anterior and middle cerebral branches fill normally."),
              ("3 mm neck", "anterior and middle cerebral arteries fill normally"))],
        ],
        discussion=("Saccular aneurysms form at branch points of the circle of Willis, where haemodynamic "
                    "stress acts on a weak arterial media, and the junction of the internal carotid and "
                    "posterior communicating arteries is one of the commonest sites. Rupture causes "
                    "subarachnoid haemorrhage, classically a sudden thunderclap headache with neck "
                    "stiffness. An aneurysm here can also compress the oculomotor nerve and cause a third "
                    "nerve palsy with a dilated pupil. Catheter angiography remains the reference standard "
                    "for defining the neck, the dome and any daughter lobule, which signals a higher risk of "
                    "re-bleeding. Early treatment by endovascular coiling or surgical clipping prevents "
                    "re-rupture."),
    ),
    dict(
        scenario="patient_to_doctor", title="Torus (buckle) fracture of the distal radius",
        certainty="Diagnosis certain", age="7 years", gender="Male",
        presentation=("Fell onto an outstretched left hand on a trampoline; tender over the distal forearm "
                      "with mild swelling and no visible deformity."),
        question=("My son fell on his hand at the trampoline park. The nurse said the bone near his wrist is "
                  "just squashed and bulging, not snapped through. Is it still a broken bone?"),
        answer="Yes",
        groups=[("xray", [(xray_wrist, dict(view="ap")), (xray_wrist, dict(view="lat"))],
                 ("AP and lateral radiographs of the left wrist show a subtle outward bulge of the radial "
                  "and dorsal cortex of the distal radial metaphysis, about 2.5 cm proximal to the open "
                  "growth plate, without a lucent line crossing the bone and without angulation. The physes "
                  "are of normal width and the ulna is intact. There is mild soft-tissue swelling over the "
                  "distal forearm."))],
        systems=["Musculoskeletal system", "Paediatrics"],
        notes=[  # per group, then per image: (description, keywords)
            [(("AP view: a small bulge of the radial cortex of the distal radius above an open growth plate; "
               "the ulna is intact."),
              ("subtle outward bulge", "distal radial metaphysis", "ulna is intact")),
             ("Lateral view: the dorsal cortex of the distal radius buckles outwards without angulation.",
              ("dorsal cortex", "without angulation"))],
        ],
        discussion=("A torus or buckle fracture is an incomplete fracture in which the soft, porous "
                    "metaphyseal bone of a child compresses and bulges instead of breaking through. It "
                    "usually follows a fall on an outstretched hand and is the most common fracture of the "
                    "distal radius in young children. Because the opposite cortex is intact the injury is "
                    "stable and heals reliably within three to four weeks. A removable splint works as well "
                    "as a cast, and follow-up radiographs are generally unnecessary. The key task is to "
                    "distinguish it from a greenstick or complete fracture, in which a cortex is breached "
                    "and angulation may need correcting."),
    ),
    dict(
        scenario="doctor_to_doctor", title="Acute appendicitis", certainty="Diagnosis certain",
        age="11 years", gender="Female",
        presentation=("Pain around the navel for a day that has moved to the right lower abdomen, with loss "
                      "of appetite, one episode of vomiting and a temperature of 38.1 degrees C."),
        question=("An 11-year-old girl has abdominal pain that migrated from the umbilicus to the right "
                  "iliac fossa, with fever. Ultrasound shows a non-compressible blind-ending tubular "
                  "structure of 9 mm diameter containing an echogenic shadowing focus, and CT shows "
                  "surrounding fat stranding. What is the diagnosis?"),
        answer="Acute appendicitis",
        groups=[("ultrasound", [(ultrasound, dict(target="appendix"))],
                 ("graded-compression ultrasound of the right lower quadrant shows a blind-ending, "
                  "non-compressible tubular structure with an outer diameter of 9 mm and a layered wall. A 6 "
                  "mm echogenic focus with posterior shadowing lies near its base. The surrounding fat is "
                  "echogenic and there is a small amount of free fluid.")),
                ("ct", [(ct_abdomen, dict(level=0)), (ct_abdomen, dict(level=1))],
                 ("contrast-enhanced axial CT of the lower abdomen shows a dilated, thick-walled appendix "
                  "with mural enhancement in the right iliac fossa, a 6 mm calcified appendicolith near its "
                  "base and stranding of the periappendiceal fat. There is no extraluminal gas or abscess. "
                  "The other bowel loops are unremarkable."))],
        systems=["Gastrointestinal system", "Paediatrics"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Right lower quadrant: a thick, layered tubular structure with a shadowing focus near its "
               "base, bright inflamed fat around it and a small pocket of fluid."),
              ("non-compressible tubular structure",
               "echogenic focus with posterior shadowing",
               "small amount of free fluid"))],
            [(("Axial slice: the swollen appendix runs down the right iliac fossa with a bright "
               "appendicolith at its base and hazy fat around it."),
              ("dilated, thick-walled appendix",
               "calcified appendicolith",
               "stranding of the periappendiceal fat")),
             (("Lower slice: the appendix seen in cross-section has a thick enhancing wall; there is no "
               "abscess."),
              ("mural enhancement", "no extraluminal gas or abscess"))],
        ],
        discussion=("Appendicitis begins with obstruction of the appendiceal lumen, often by an "
                    "appendicolith or lymphoid hyperplasia, followed by distension, ischaemia of the wall "
                    "and bacterial invasion. The pain starts around the umbilicus because the early stimulus "
                    "is visceral, then moves to the right iliac fossa once the parietal peritoneum is "
                    "inflamed. In children ultrasound comes first to avoid radiation, and a non-compressible "
                    "appendix wider than 6 mm is the main criterion. An appendicolith raises the risk of "
                    "perforation. Treatment is appendicectomy, although selected uncomplicated cases are "
                    "managed with antibiotics alone."),
    ),
    dict(
        scenario="intern_to_senior", title="Acute pulmonary embolism", certainty="Diagnosis certain",
        age="41 years", gender="Female",
        presentation=("Sudden breathlessness and right-sided pleuritic chest pain four days after a "
                      "long-haul flight; heart rate 112 per minute, oxygen saturation 91% on room air."),
        question=("On this CT pulmonary angiogram, what is the sign called when an artery seen in "
                  "cross-section has a central low-attenuation filling defect surrounded by a thin ring of "
                  "contrast?"),
        answer="Polo mint sign",
        groups=[("ct", [(ct_chest, dict(window="angio", level=0, lesion="pe")),
                        (ct_chest, dict(window="angio", level=1, lesion="pe"))],
                 ("CT pulmonary angiography shows a filling defect in the right main pulmonary artery that "
                  "extends into the right lower lobe segmental arteries; where these vessels are cut in "
                  "cross-section the defect is surrounded by a thin rim of enhancing blood. The main "
                  "pulmonary artery measures 27 mm and the right-to-left ventricular ratio is 0.9. A small "
                  "wedge-shaped pleural-based opacity in the right lower lobe suggests early infarction."))],
        systems=["Respiratory system", "Cardiovascular system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Slice at the pulmonary trunk: a low-density filling defect lies within the contrast-filled "
               "right main pulmonary artery."),
              ("filling defect in the right main pulmonary artery", "main pulmonary artery measures 27 mm")),
             (("Lower slice: segmental arteries seen end-on contain central defects ringed by contrast, and "
               "a wedge-shaped opacity lies against the pleura."),
              ("surrounded by a thin rim of enhancing blood", "wedge-shaped pleural-based opacity"))],
        ],
        discussion=("Most pulmonary emboli arise from deep vein thrombosis in the legs, and long periods of "
                    "immobility such as long-haul flights are a recognised trigger. CT pulmonary angiography "
                    "is the standard test: thrombus appears as a filling defect, and a central defect with a "
                    "rim of contrast in a vessel seen end-on gives the polo mint appearance of acute clot. "
                    "The ratio of right to left ventricular diameter estimates right heart strain, and a "
                    "ratio above 1.0 signals a worse prognosis. Peripheral wedge-shaped opacities represent "
                    "infarction or haemorrhage. Anticoagulation is the mainstay of treatment, and "
                    "thrombolysis is reserved for patients who are haemodynamically unstable."),
    ),
    dict(
        scenario="patient_to_doctor", title="Relapsing-remitting multiple sclerosis",
        certainty="Diagnosis probable",
        age="29 years", gender="Female",
        presentation=("Two episodes of blurred vision in the right eye with pain on moving the eye over the "
                      "past year, and tingling in both legs for three weeks."),
        question=("The report on my brain scan talks about lots of small white spots. I'm really scared - "
                  "does it show a brain tumour?"),
        answer="No",
        groups=[("mri", [(mri_brain, dict(seq="t2")), (mri_brain, dict(seq="flair")),
                         (mri_brain, dict(seq="t1c")), (mri_brain, dict(seq="dwi"))],
                 ("axial T2-weighted, FLAIR, contrast-enhanced T1-weighted and diffusion-weighted images of "
                  "the brain show multiple ovoid hyperintense white-matter lesions of 3 to 9 mm oriented "
                  "perpendicular to the lateral ventricles, with further juxtacortical lesions. One right "
                  "periventricular lesion shows open-ring enhancement after contrast, indicating activity. "
                  "There is no mass effect and no restricted diffusion."))],
        systems=["Central nervous system"],
        notes=[  # per group, then per image: (description, keywords)
            [("T2-weighted image: several bright ovoid white-matter lesions around the lateral ventricles.",
              ("multiple ovoid hyperintense white-matter lesions",
               "perpendicular to the lateral ventricles")),
             ("FLAIR image: the lesions stand out against dark CSF, and small ones touch the cortex.",
              ("juxtacortical lesions",)),
             (("Contrast-enhanced T1-weighted image: one right periventricular lesion shows an incomplete "
               "ring of enhancement."),
              ("open-ring enhancement",)),
             ("Diffusion-weighted image: the lesions are not bright, so diffusion is not restricted.",
              ("no restricted diffusion",))],
        ],
        discussion=("Multiple sclerosis is an immune-mediated demyelinating disease of the central nervous "
                    "system that usually presents in young adults, more often women, with episodes such as "
                    "optic neuritis or sensory disturbance. MRI shows lesions disseminated in space, "
                    "favouring periventricular, juxtacortical, infratentorial and spinal cord sites, and "
                    "ovoid lesions perpendicular to the ventricles are typical. Enhancing and non-enhancing "
                    "lesions on the same scan demonstrate dissemination in time. An open-ring pattern of "
                    "enhancement favours demyelination over a tumour or an abscess. Disease-modifying "
                    "therapy is started early to reduce relapses and long-term disability."),
    ),
    dict(
        scenario="doctor_to_doctor", title="Infantile hypertrophic pyloric stenosis",
        certainty="Diagnosis certain",
        age="5 weeks", gender="Male",
        presentation=("Forceful, non-bilious vomiting after every feed for five days, hungry again straight "
                      "afterwards, with fewer wet nappies; a firm olive-sized lump is felt in the upper "
                      "abdomen during a test feed."),
        question=("A 5-week-old boy has projectile non-bilious vomiting after every feed. The radiograph "
                  "shows a distended gastric air bubble with little distal gas, and ultrasound shows a "
                  "pyloric muscle wall of 4.8 mm and a channel length of 19 mm. What is the diagnosis?"),
        answer="Infantile hypertrophic pyloric stenosis",
        groups=[("xray", [(xray_abdomen_infant, {})],
                 ("the supine abdominal radiograph shows a markedly distended, gas-filled stomach in the "
                  "left upper quadrant with very little gas in the small and large bowel. There is no free "
                  "gas and no portal venous gas.")),
                ("ultrasound", [(ultrasound, dict(target="pylorus", view="long")),
                                (ultrasound, dict(target="pylorus", view="trans"))],
                 ("longitudinal and transverse ultrasound of the pylorus shows a thickened hypoechoic muscle "
                  "wall of 4.8 mm, an elongated pyloric channel of 19 mm and a target appearance in "
                  "cross-section. No gastric contents passed through the channel during ten minutes of "
                  "observation."))],
        systems=["Gastrointestinal system", "Paediatrics"],
        notes=[  # per group, then per image: (description, keywords)
            [(("Supine abdominal film: one large gas bubble in the left upper abdomen and almost no gas "
               "beyond it."),
              ("markedly distended, gas-filled stomach", "very little gas in the small and large bowel"))],
            [(("Longitudinal view: a long pyloric channel lined by a thick dark muscle layer, beyond a "
               "fluid-filled antrum."),
              ("thickened hypoechoic muscle wall of 4.8 mm", "elongated pyloric channel of 19 mm")),
             ("Transverse view: the thickened pylorus forms a target with a bright mucosal centre.",
              ("target appearance in cross-section",))],
        ],
        discussion=("Infantile hypertrophic pyloric stenosis is progressive thickening of the pyloric muscle "
                    "that obstructs gastric emptying, classically in first-born boys between three and six "
                    "weeks of age. The vomiting is forceful and non-bilious because the obstruction lies "
                    "above the ampulla, and the infant stays hungry. Persistent loss of gastric acid causes "
                    "a hypochloraemic, hypokalaemic metabolic alkalosis, which must be corrected before "
                    "surgery. Ultrasound is diagnostic when the muscle is at least 3 mm thick and the "
                    "channel at least 15 mm long. Pyloromyotomy, open or laparoscopic, is curative."),
    ),
    dict(
        scenario="intern_to_senior", title="Right middle lobe pneumonia", certainty="Diagnosis probable",
        age="63 years", gender="Male",
        presentation=("Three days of fever, cough with rust-coloured sputum and right-sided chest pain; "
                      "crackles over the right lower anterior chest."),
        question=("On this frontal chest film the right heart border can no longer be seen where the "
                  "consolidation lies against it. What is this radiological sign called?"),
        answer="Silhouette sign",
        groups=[("xray", [(xray_chest, dict(view="pa", lesion="rml")),
                          (xray_chest, dict(view="lat", lesion="rml"))],
                 ("posteroanterior and lateral chest radiographs show airspace consolidation with air "
                  "bronchograms in the right mid zone that obscures the right heart border, while the right "
                  "hemidiaphragm remains sharp. On the lateral view the opacity is wedge-shaped, bounded by "
                  "the horizontal and oblique fissures and projected over the heart. There is no pleural "
                  "effusion or pneumothorax."))],
        systems=["Respiratory system"],
        notes=[  # per group, then per image: (description, keywords)
            [(("PA film: consolidation with air bronchograms in the right mid zone blurs the right heart "
               "border, while the hemidiaphragm stays sharp."),
              ("airspace consolidation with air bronchograms", "obscures the right heart border")),
             ("Lateral film: a wedge of opacity over the heart shadow, outlined by the two fissures.",
              ("wedge-shaped", "horizontal and oblique fissures"))],
        ],
        discussion=("The silhouette sign describes the loss of a normal interface where two structures of "
                    "soft-tissue density touch, and it localises disease on a frontal film. Because the "
                    "right middle lobe lies against the right heart border, consolidation there erases that "
                    "border, whereas right lower lobe disease obscures the hemidiaphragm instead. The "
                    "lateral film confirms the lobe by showing a wedge bounded by the horizontal and oblique "
                    "fissures. Rust-coloured sputum and lobar consolidation suggest pneumococcal infection. "
                    "A follow-up film after about six weeks is advised in older smokers to make sure no "
                    "tumour lies behind the consolidation."),
    ),
]



# --------------------------------------------------------------------------- the corpus (corpus.jsonl)

# Folder name in the image path -> modality as the corpus names it.
MODALITY_NAMES = {
    "ct": "CT", "mri": "MRI", "xray": "X-ray", "ultrasound": "Ultrasound", "mammography": "Mammography",
    "dsa": "DSA", "pet": "PET", "nm": "Nuclear medicine", "fluoro": "Fluoroscopy", "echo": "Echocardiography",
    "oct": "OCT", "fundus": "Fundus photography", "endoscopy": "Endoscopy",
}
SPECKLED = (ultrasound, sono, echocardiogram, oct_bscan)  # fewer grey levels keep their noisy PNGs small
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


@dataclass(frozen=True)
class Pic:
    "One corpus keyframe: how it is drawn and what the keyframe annotator wrote about it."

    fn: Callable[..., np.ndarray] | None  # None: no drawing (a copy of another image, or the unreadable file)
    kwargs: dict = field(default_factory=dict)
    description: str = ""
    keywords: tuple[str, ...] = ()
    size: int = SIZE  # side in pixels: drawn at SIZE, then shrunk
    levels: int | None = None  # grey levels; None: 16 for speckled modalities, 32 otherwise
    same_as: int | None = None  # an exact byte copy of this image of the same group
    unreadable: bool = False


def _swallow_series() -> list[Pic]:
    "Eleven spot images of a barium swallow, the column emptying slowly (the many-keyframes edge case)."
    pics = []
    for i in range(11):
        seconds = 30 * i
        keywords = ["narrow, symmetric beak"]
        text = (f"Spot image {i + 1} of 11, about {seconds} s after the swallow: the dilated oesophagus ends "
                "in a smooth beak")
        if i == 0:
            keywords += ["dilated, aperistaltic oesophagus", "air-fluid level above the barium column"]
            text += ", with an air-fluid level high above the barium"
        elif i % 3 == 2:
            keywords.append("intermittent thin jet")
            text += ", and a thin jet of barium enters the stomach"
        else:
            keywords.append("height of the column falls slowly")
            text += ", and the barium column is lower than on the image before"
        pics.append(Pic(fluoroscopy, dict(study="swallow", phase=i), text + ".", tuple(keywords),
                        size=200, levels=8))
    return pics


# New fictional cases, demo-013 on. Each group: (modality folder, caption, [Pic, ...]).
CORPUS_CASES: list[dict] = [
    dict(  # demo-013: short
        title="Primary spontaneous pneumothorax",
        systems=["Respiratory system"],
        certainty="Diagnosis certain", age="21 years", gender="Male",
        presentation=("Sudden sharp right-sided chest pain and mild breathlessness while studying at his "
                      "desk; no injury."),
        groups=[
            ("xray",
             ("Frontal chest radiograph shows a right apical pneumothorax with a visible pleural line and no "
              "lung markings beyond it. No mediastinal shift."),
             [Pic(xray_pneumothorax, {},
                  ("Frontal film: a thin white pleural line in the right hemithorax with dark, featureless "
                   "air outside it."),
                  ("right apical pneumothorax", "visible pleural line"))]),
        ],
        discussion=("Primary spontaneous pneumothorax typically affects tall young men who smoke, from "
                    "rupture of small apical blebs. Small, stable ones may be observed or aspirated."),
    ),
    dict(  # demo-014: long
        title="Classical Hodgkin lymphoma, nodular sclerosis type",
        systems=["Haematology and lymphatic system", "Oncology"],
        certainty="Diagnosis certain", age="26 years", gender="Female",
        presentation=("Painless swelling on the left side of the neck for two months, drenching night "
                      "sweats, itching after hot baths and a dry cough; she has lost 6 kg. A core biopsy of "
                      "a neck node has been taken."),
        groups=[
            ("ct",
             ("Contrast-enhanced axial CT of the chest shows a lobulated soft-tissue mass in the anterior "
              "mediastinum measuring 9 x 5 cm, which drapes around the ascending aorta and pulmonary trunk "
              "without narrowing them. The mass is of fairly uniform attenuation, without calcification or "
              "areas of fluid density. Small hilar lymph nodes of up to 12 mm in short axis are present on "
              "both sides. The trachea is patent and the lungs show no nodules or consolidation. There is no "
              "pleural or pericardial effusion. The superior vena cava is well opacified and there are no "
              "collateral veins in the chest wall."),
             [Pic(ct_mediastinum, {},
                  ("Axial slice at the level of the great vessels: a lobulated soft-tissue mass fills the "
                   "front of the mediastinum ahead of the aorta and the pulmonary trunk, with small nodes at "
                   "both hila."),
                  ("lobulated soft-tissue mass in the anterior mediastinum",
                   "drapes around the ascending aorta and pulmonary trunk",
                   "Small hilar lymph nodes"))]),
            ("pet",
             ("FDG PET maximum-intensity projection shows intense tracer uptake in the anterior mediastinal "
              "mass and in a chain of enlarged left cervical and supraclavicular lymph nodes, with a single "
              "avid node in the right lower neck. Both hilar regions show moderate uptake. There is no "
              "abnormal uptake below the diaphragm, and the spleen and bone marrow show normal, uniform "
              "activity. Physiological activity is seen in the brain, myocardium, kidneys and bladder."),
             [Pic(pet_mip, dict(pattern="lymphoma"),
                  ("Anterior projection, uptake shown dark: a row of avid nodes in the left neck, one on the "
                   "right, and a large avid mass in the upper mediastinum; nothing abnormal below the "
                   "diaphragm."),
                  ("intense tracer uptake in the anterior mediastinal mass",
                   "left cervical and supraclavicular lymph nodes",
                   "no abnormal uptake below the diaphragm"))]),
        ],
        discussion=("Classical Hodgkin lymphoma has two age peaks, in young adults and in later life, and "
                    "the nodular sclerosis subtype is the commonest form in young women, who often present "
                    "with a mediastinal mass and enlarged cervical nodes. The malignant Reed-Sternberg cells "
                    "are scarce among many reactive inflammatory cells, which is why a core or excision "
                    "biopsy is preferred to fine-needle aspiration. Fever, drenching night sweats and the "
                    "loss of more than a tenth of body weight in six months are the B symptoms that carry "
                    "prognostic weight; itching is common but does not count. FDG PET-CT is the staging "
                    "standard: disease confined to lymph node regions on one side of the diaphragm is stage "
                    "II, and a mediastinal mass wider than a third of the chest is called bulky. The stage "
                    "and risk factors set the intensity of chemotherapy, and a PET scan after two cycles is "
                    "used to adapt the remaining treatment. Because most patients are cured, late effects "
                    "such as second cancers, heart disease and infertility weigh heavily in planning. The "
                    "differential diagnosis of an anterior mediastinal mass in a young adult includes "
                    "thymoma, a germ cell tumour and primary mediastinal large B-cell lymphoma."),
    ),
    dict(  # demo-015
        title="Graves disease",
        systems=["Endocrine system", "Head and neck"],
        certainty="Diagnosis certain", age="34 years", gender="Female",
        presentation=("Three months of palpitations, heat intolerance, weight loss despite a good appetite "
                      "and a fine tremor; her eyes have become prominent and gritty. TSH is suppressed and "
                      "free T4 is raised."),
        groups=[
            ("nm",
             ("Technetium-99m pertechnetate thyroid scintigraphy shows a diffusely enlarged gland with "
              "intense, homogeneous tracer uptake in both lobes and the isthmus. No focal hot or cold nodule "
              "is seen. Salivary gland activity is faint compared with the thyroid, and the 20-minute uptake "
              "is raised at 9%."),
             [Pic(scintigraphy, dict(target="thyroid"),
                  ("Anterior view of the neck, uptake shown dark: both lobes and the isthmus are uniformly "
                   "dark, while the salivary glands are barely visible."),
                  ("diffusely enlarged gland",
                   "intense, homogeneous tracer uptake",
                   "Salivary gland activity is faint"))]),
            ("ultrasound",
             ("Transverse ultrasound of the neck shows both thyroid lobes enlarged, with a diffusely "
              "hypoechoic and heterogeneous echotexture and no discrete nodule. Colour Doppler, not shown "
              "here, demonstrated markedly increased vascularity throughout the gland."),
             [Pic(sono, dict(target="thyroid"),
                  ("Transverse view: enlarged, patchy dark thyroid lobes on either side of the trachea, "
                   "which casts a shadow; the carotid arteries lie lateral to them."),
                  ("both thyroid lobes enlarged", "diffusely hypoechoic and heterogeneous echotexture"))]),
        ],
        discussion=("Graves disease is an autoimmune hyperthyroidism in which antibodies stimulate the TSH "
                    "receptor, driving both hormone production and growth of the gland. Thyroid eye disease "
                    "and pretibial myxoedema are features specific to it. Scintigraphy helps when the cause "
                    "of thyrotoxicosis is uncertain: diffusely increased uptake points to Graves disease, "
                    "absent uptake to thyroiditis and focal uptake to a toxic nodule. TSH receptor "
                    "antibodies usually confirm the diagnosis without imaging. Treatment options are "
                    "antithyroid drugs, radioiodine or surgery, and radioiodine can worsen active eye "
                    "disease."),
    ),
    dict(  # demo-016
        title="Skeletal metastases from prostate cancer",
        systems=["Musculoskeletal system", "Genitourinary system", "Oncology"],
        certainty="Diagnosis probable", age="71 years", gender="Male",
        presentation=("Low back pain for two months that is worse at night; PSA 86 ng/mL. A prostate biopsy "
                      "last week showed adenocarcinoma."),
        groups=[
            ("nm",
             ("Whole-body technetium-99m MDP bone scintigraphy, anterior and posterior views, shows multiple "
              "irregular foci of intense uptake scattered through the thoracic and lumbar spine, several "
              "ribs, the pelvis and the right proximal femur. The foci differ in size and do not follow a "
              "pattern of injury. Renal and bladder activity are normal."),
             [Pic(scintigraphy, dict(target="bone", view="ant"),
                  ("Anterior view, uptake shown dark: hot spots in the spine, ribs, pelvis and upper right "
                   "femur stand out on a faint skeleton."),
                  ("multiple irregular foci of intense uptake", "right proximal femur")),
              Pic(scintigraphy, dict(target="bone", view="post"),
                  ("Posterior view: the spinal and pelvic hot spots are clearer because the spine lies "
                   "nearer the camera."),
                  ("thoracic and lumbar spine", "several ribs, the pelvis"))]),
        ],
        discussion=("Prostate cancer spreads preferentially to the axial skeleton, where its metastases are "
                    "usually osteoblastic and therefore take up bone-seeking tracers avidly. A PSA above "
                    "about 20 ng/mL makes bone involvement likely enough to justify staging. Multiple "
                    "randomly scattered foci favour metastases, whereas uptake in a line along adjacent ribs "
                    "suggests fractures. PSMA-targeted PET is more sensitive than bone scintigraphy. "
                    "Metastatic disease is treated systemically, with androgen deprivation as the backbone "
                    "and radiotherapy for painful deposits."),
    ),
    dict(  # demo-017: the group with eleven keyframes
        title="Achalasia",
        systems=["Gastrointestinal system"],
        certainty="Diagnosis probable", age="44 years", gender="Female",
        presentation=("Two years of difficulty swallowing both solids and liquids, regurgitation of "
                      "undigested food at night and 8 kg weight loss; she drinks water to help food pass."),
        groups=[
            ("fluoro",
             ("Barium swallow, a series of eleven spot images taken over five minutes in the upright "
              "position, shows a dilated, aperistaltic oesophagus with a maximum width of 4.5 cm and an "
              "air-fluid level above the barium column. The distal oesophagus tapers smoothly to a narrow, "
              "symmetric beak at the gastro-oesophageal junction. Barium passes into the stomach only as an "
              "intermittent thin jet, and the height of the column falls slowly from one image to the next. "
              "There is no shouldering, mucosal irregularity or mass at the junction, and the gastric fundus "
              "contains little barium."),
             _swallow_series()),
        ],
        discussion=("Achalasia is a primary motility disorder in which loss of inhibitory neurons in the "
                    "myenteric plexus leaves the lower oesophageal sphincter unable to relax and abolishes "
                    "peristalsis in the oesophageal body. Dysphagia for both solids and liquids from the "
                    "outset distinguishes it from a mechanical stricture, which affects solids first. The "
                    "barium swallow shows a dilated oesophagus ending in a smooth bird's beak, and a timed "
                    "study measures how slowly the column empties. High-resolution manometry confirms the "
                    "diagnosis and its subtype, which predicts the response to treatment. Endoscopy is "
                    "needed to exclude pseudoachalasia from a tumour at the cardia, especially in an older "
                    "patient with a short history and rapid weight loss. Treatment options are pneumatic "
                    "dilatation, laparoscopic Heller myotomy and peroral endoscopic myotomy."),
    ),
    dict(  # demo-018
        title="Grade IV vesicoureteric reflux",
        systems=["Genitourinary system", "Paediatrics"],
        certainty="Diagnosis certain", age="8 months", gender="Female",
        presentation=("Second febrile urinary tract infection in three months, with Escherichia coli grown "
                      "from a catheter urine sample; an earlier ultrasound showed a dilated right renal "
                      "pelvis."),
        groups=[
            ("fluoro",
             ("Micturating cystourethrogram: contrast instilled through a urethral catheter fills a "
              "smooth-walled bladder. During filling, contrast refluxes into a dilated right ureter, and on "
              "later images it reaches a dilated renal pelvis with blunted calyces, while the ureter is "
              "tortuous. No reflux is seen on the left, and the urethra appears normal during voiding."),
             [Pic(fluoroscopy, dict(study="mcug", phase=0),
                  ("Early filling image: contrast in the bladder has entered the lower part of a dilated "
                   "right ureter."),
                  ("smooth-walled bladder", "refluxes into a dilated right ureter")),
              Pic(fluoroscopy, dict(study="mcug", phase=1),
                  ("Later image: contrast outlines a tortuous ureter up to a dilated renal pelvis with "
                   "blunted calyces."),
                  ("dilated renal pelvis with blunted calyces", "ureter is tortuous"))]),
        ],
        discussion=("Vesicoureteric reflux is the backflow of urine from the bladder into the upper tract, "
                    "usually because the segment of ureter that tunnels through the bladder wall is too "
                    "short to act as a valve. It predisposes infants to recurrent pyelonephritis and renal "
                    "scarring. The international grading runs from I to V: grade IV means a dilated, "
                    "moderately tortuous ureter with blunted calyces, and grade V adds gross tortuosity and "
                    "loss of the papillary impressions. Many low-grade cases resolve with growth, but "
                    "high-grade reflux with breakthrough infections may need antibiotic prophylaxis, "
                    "endoscopic injection or reimplantation of the ureter. A DMSA scan shows whether the "
                    "kidney is scarred."),
    ),
    dict(  # demo-019: long
        title="Malignant pericardial effusion with cardiac tamponade",
        systems=["Cardiovascular system", "Oncology"],
        certainty="Diagnosis certain", age="58 years", gender="Male",
        presentation=("Three weeks of increasing breathlessness and chest heaviness, now short of breath at "
                      "rest. Blood pressure 92/64 mmHg with a 16 mmHg fall on inspiration, distended neck "
                      "veins and quiet heart sounds. He finished chemoradiotherapy for lung cancer two "
                      "months ago."),
        groups=[
            ("echo",
             ("Transthoracic echocardiography shows a large circumferential pericardial effusion, measuring "
              "24 mm behind the left ventricle in diastole and 18 mm in front of the right ventricle. The "
              "fluid is echo-free without strands or clot. In the parasternal long-axis view the heart "
              "swings within the effusion, and the right ventricular free wall collapses in early diastole. "
              "The apical four-chamber view shows inversion of the right atrial free wall lasting more than "
              "a third of the cardiac cycle. Left ventricular size and systolic function are normal, with an "
              "estimated ejection fraction of 60%. Mitral inflow Doppler, not shown, varied by more than 30% "
              "with respiration, and the inferior vena cava was dilated at 24 mm without collapse on "
              "inspiration. These findings indicate tamponade physiology."),
             [Pic(echocardiogram, dict(view="plax"),
                  ("Parasternal long-axis view: a wide black band of fluid surrounds the heart, in front of "
                   "the right ventricle and behind the left ventricle, inside the bright pericardium."),
                  ("large circumferential pericardial effusion",
                   "24 mm behind the left ventricle",
                   "echo-free without strands or clot")),
              Pic(echocardiogram, dict(view="a4c"),
                  ("Apical four-chamber view: fluid surrounds all four chambers and the right atrial free "
                   "wall is pushed inwards."),
                  ("apical four-chamber view", "inversion of the right atrial free wall"))]),
        ],
        discussion=("Cardiac tamponade occurs when fluid in the pericardial sac raises the pressure around "
                    "the heart above the filling pressure of its chambers, so that diastolic filling and "
                    "stroke volume fall. The speed of accumulation matters more than the volume: a slowly "
                    "growing effusion can reach a litre with few symptoms, whereas a small amount of blood "
                    "after trauma can be fatal. Beck's triad of hypotension, raised jugular venous pressure "
                    "and muffled heart sounds is present in only a minority, and pulsus paradoxus is a more "
                    "sensitive bedside sign. Echocardiography shows the effusion and its effect on the "
                    "circulation: diastolic collapse of the right-sided chambers, exaggerated respiratory "
                    "variation of inflow and a plethoric inferior vena cava. Tamponade remains a clinical "
                    "diagnosis supported by these signs rather than a measurement alone. Malignancy, "
                    "particularly lung and breast cancer and lymphoma, is among the commonest causes of "
                    "large effusions in adults, together with viral or idiopathic pericarditis, renal "
                    "failure and previous radiotherapy. Treatment is urgent drainage, usually by echo-guided "
                    "pericardiocentesis, and the fluid is sent for cytology. Malignant effusions that recur "
                    "may need a surgical pericardial window."),
    ),
    dict(  # demo-020: short
        title="Central serous chorioretinopathy",
        systems=["Eye"],
        certainty="Diagnosis probable", age="39 years", gender="Male",
        presentation=("Blurred, dim central vision in the right eye for one week during a stressful period "
                      "at work."),
        groups=[
            ("oct",
             ("Macular OCT of the right eye shows a dome-shaped serous detachment of the neurosensory retina "
              "with clear subretinal fluid."),
             [Pic(oct_bscan, dict(lesion="csr"),
                  ("Horizontal scan through the fovea: the retina is lifted off the bright pigment "
                   "epithelium by a dark dome of fluid."),
                  ("dome-shaped serous detachment", "clear subretinal fluid"))]),
        ],
        discussion=("Central serous chorioretinopathy mostly affects young and middle-aged men, often with "
                    "stress or steroid use. The fluid usually resolves within a few months."),
    ),
    dict(  # demo-021
        title="Non-proliferative diabetic retinopathy with macular oedema",
        systems=["Eye", "Endocrine system"],
        certainty="Diagnosis certain", age="61 years", gender="Female",
        presentation=("Type 2 diabetes for 15 years with poor glycaemic control; reading has become "
                      "difficult over the past few months. Visual acuity 6/18 in the right eye and 6/12 in "
                      "the left."),
        groups=[
            ("fundus",
             ("Colour fundus photographs of both eyes show scattered dot and blot haemorrhages in all four "
              "quadrants, a few cotton-wool spots along the vascular arcades and a ring of hard exudates "
              "around the fovea. The optic discs are healthy and there is no new vessel formation at the "
              "disc or elsewhere."),
             [Pic(fundus, dict(eye="right", lesion="dr"),
                  ("Right eye: dark dot haemorrhages, pale cotton-wool spots and a ring of bright exudates "
                   "around the macula; the disc lies on the nasal side."),
                  ("dot and blot haemorrhages",
                   "cotton-wool spots",
                   "ring of hard exudates around the fovea")),
              Pic(fundus, dict(eye="left", lesion="dr"),
                  ("Left eye: a similar pattern of haemorrhages and exudates; no new vessels on or near the "
                   "disc."),
                  ("dot and blot haemorrhages", "no new vessel formation"))]),
            ("oct",
             ("Macular OCT of the right eye shows intraretinal cystoid spaces and diffuse thickening of the "
              "central macula, with a central subfield thickness of 452 micrometres. There is no subretinal "
              "fluid and the vitreomacular interface is normal."),
             [Pic(oct_bscan, dict(lesion="dme"),
                  ("Scan through the fovea: dark cystic spaces within a thickened retina and loss of the "
                   "normal foveal dip."),
                  ("intraretinal cystoid spaces", "diffuse thickening of the central macula"))]),
        ],
        discussion=("Diabetic retinopathy results from damage to the retinal capillaries by chronic "
                    "hyperglycaemia, which makes small vessels leak and close. Haemorrhages, exudates and "
                    "cotton-wool spots without new vessels define non-proliferative disease, graded by the "
                    "number of quadrants involved and by venous beading or intraretinal microvascular "
                    "abnormalities. Macular oedema can threaten vision at any stage and is best detected and "
                    "measured with OCT. Oedema involving the centre with reduced acuity is treated with "
                    "intravitreal anti-VEGF injections, together with control of glucose, blood pressure and "
                    "lipids."),
    ),
    dict(  # demo-022: one keyframe is only 160 x 160
        title="Duodenal ulcer",
        systems=["Gastrointestinal system"],
        certainty="Diagnosis certain", age="47 years", gender="Male",
        presentation=("Epigastric pain for six weeks that wakes him at night and eases when he eats; he "
                      "takes ibuprofen most days for back pain. Haemoglobin is normal."),
        groups=[
            ("endoscopy",
             ("Upper gastrointestinal endoscopy shows a round, 12 mm ulcer on the anterior wall of the "
              "duodenal bulb with a clean white fibrin base and a slightly raised, reddened rim. A flat "
              "pigmented spot lies within the base, without active bleeding or a visible vessel. The "
              "surrounding duodenal mucosa is mildly erythematous, and the stomach shows patchy antral "
              "erythema; antral biopsies were taken for Helicobacter pylori."),
             [Pic(endoscopy, dict(lesion="ulcer", shot=0),
                  "Close view of the duodenal bulb: a round ulcer with a white fibrin base and a red rim.",
                  ("clean white fibrin base", "reddened rim")),
              Pic(endoscopy, dict(lesion="ulcer", shot=1),
                  ("Second view after washing, from a little further back: a small flat dark spot lies in "
                   "the ulcer base."),
                  ("flat pigmented spot",), size=160),
              Pic(endoscopy, dict(lesion="ulcer", shot=2),
                  ("View with the lumen centred: the ulcer on the wall of the bulb with mildly red mucosa "
                   "around it and no blood in the lumen."),
                  ("without active bleeding", "mildly erythematous"))]),
        ],
        discussion=("Duodenal ulcers are caused mainly by Helicobacter pylori infection and non-steroidal "
                    "anti-inflammatory drugs, both of which weaken the defences of the mucosa against acid. "
                    "The pain is classically relieved by food and returns hours later or at night. The "
                    "appearance of the ulcer base predicts the risk of rebleeding: a clean base carries a "
                    "very low risk, a flat pigmented spot a low risk, and a visible vessel or active "
                    "bleeding a high risk that calls for endoscopic therapy. Management is a proton pump "
                    "inhibitor, eradication of H. pylori when present and stopping the anti-inflammatory "
                    "drug."),
    ),
    dict(  # demo-023: long
        title="Bleeding oesophageal varices in alcohol-related cirrhosis",
        systems=["Hepatobiliary system", "Gastrointestinal system"],
        certainty="Diagnosis certain", age="54 years", gender="Male",
        presentation=("Vomited a cupful of fresh blood this morning after two days of black stools. Long "
                      "history of heavy drinking; jaundiced, with spider naevi, a distended abdomen with "
                      "shifting dullness and a palpable spleen. Platelets 68 x 10^9/L, INR 1.7."),
        groups=[
            ("endoscopy",
             ("Urgent upper endoscopy after resuscitation shows four large, tortuous variceal columns in the "
              "distal third of the oesophagus that stay bulging with air insufflation and occupy more than a "
              "third of the lumen. Red wale marks are present on one column, and a small adherent clot marks "
              "a recent bleeding point. The stomach contains altered blood; there are no gastric varices and "
              "the fundus shows the mild mosaic pattern of portal hypertensive gastropathy. Five bands were "
              "applied to the oesophageal varices with good haemostasis."),
             [Pic(endoscopy, dict(lesion="varices"),
                  ("View down the distal oesophagus: several bulging variceal columns converge on the lumen, "
                   "and one carries a small red mark."),
                  ("four large, tortuous variceal columns", "Red wale marks"))]),
            ("ultrasound",
             ("Abdominal ultrasound shows a small liver with a coarse, heterogeneous echotexture and a "
              "nodular surface, outlined by a moderate volume of ascites. The portal vein measures 14 mm "
              "with slow hepatopetal flow on Doppler. The spleen is enlarged at 16 cm. No focal liver lesion "
              "is seen, and the gallbladder wall is thickened by oedema."),
             [Pic(sono, dict(target="liver"),
                  ("Oblique view of the right lobe: dark ascites lies over a lumpy liver surface, the liver "
                   "texture is coarse, and the portal vein is cut in cross-section."),
                  ("coarse, heterogeneous echotexture", "nodular surface", "moderate volume of ascites"))]),
        ],
        discussion=("Cirrhosis replaces the normal liver architecture with fibrosis and regenerative nodules "
                    "and raises the resistance to portal blood flow. Once the hepatic venous pressure "
                    "gradient exceeds about 10 mmHg, collaterals open between the portal and systemic "
                    "circulations, and varices at the lower end of the oesophagus are the most dangerous of "
                    "them. Variceal bleeding carries a high early mortality, and the risk of bleeding rises "
                    "with the size of the varices, red wale marks and the severity of the liver disease. "
                    "Acute bleeding is managed with careful resuscitation, a restrictive transfusion "
                    "threshold, a vasoactive drug such as terlipressin and prophylactic antibiotics, which "
                    "reduce both infection and rebleeding. Endoscopy within 12 hours allows band ligation, "
                    "which is preferred to sclerotherapy for oesophageal varices, and patients at high risk "
                    "of failure benefit from an early transjugular intrahepatic portosystemic shunt. After "
                    "recovery, a non-selective beta-blocker combined with repeated banding lowers the risk "
                    "of further bleeding. Ultrasound supports the diagnosis of cirrhosis, shows ascites and "
                    "splenomegaly as signs of portal hypertension, and is repeated every six months as "
                    "surveillance for hepatocellular carcinoma. Stopping drinking is the single most "
                    "important long-term measure."),
    ),
    dict(  # demo-024: short, no discussion, not annotated
        title="Pedunculated sigmoid adenoma",
        systems=["Gastrointestinal system"],
        certainty="Diagnosis probable", age="63 years", gender="Female", annotated=False,
        presentation=("Screening colonoscopy after a positive faecal immunochemical test; no symptoms."),
        groups=[
            ("endoscopy",
             ("Colonoscopy shows a 14 mm pedunculated polyp with a smooth, lobulated head in the sigmoid "
              "colon. It was removed whole by snare polypectomy."),
             [Pic(endoscopy, dict(lesion="polyp", shot=0)),
              Pic(endoscopy, dict(lesion="polyp", shot=3))]),
        ],
    ),
    dict(  # demo-025: long
        title="Acute ischaemic stroke in the left middle cerebral artery territory",
        systems=["Central nervous system", "Vascular system"],
        certainty="Diagnosis certain", age="69 years", gender="Male",
        presentation=("Woke at 6 am with weakness of the right arm and leg and difficulty finding words; he "
                      "was last seen well when he went to bed at 11 pm. Known hypertension and atrial "
                      "fibrillation, not anticoagulated. NIHSS score 16, blood pressure 178/96 mmHg, glucose "
                      "normal."),
        groups=[
            ("ct",
             ("Non-contrast axial CT of the head shows loss of grey-white matter differentiation and "
              "hypodensity over the lateral left cerebral hemisphere, including the insula, within the "
              "territory of the left middle cerebral artery. The proximal left middle cerebral artery is "
              "hyperdense, consistent with thrombus. There is no intracranial haemorrhage and no established "
              "mass effect. The ASPECTS score is 6."),
             [Pic(ct_head_stroke, {},
                  ("Axial slice at the level of the lateral ventricles: a darker wedge over the lateral left "
                   "hemisphere (image right) and a short bright line along the left middle cerebral artery."),
                  ("loss of grey-white matter differentiation",
                   "territory of the left middle cerebral artery",
                   "proximal left middle cerebral artery is hyperdense"))]),
            ("mri",
             ("Diffusion-weighted MRI, obtained because the time of onset was unknown, shows restricted "
              "diffusion throughout the left middle cerebral artery territory: the infarct is bright on the "
              "b1000 images and dark on the apparent diffusion coefficient map. FLAIR images showed no "
              "matching signal change, which suggests the infarct is less than about four and a half hours "
              "old. The right hemisphere is normal."),
             [Pic(mri_stroke, dict(seq="dwi"),
                  "Diffusion-weighted image: a large bright region over the lateral left hemisphere.",
                  ("restricted diffusion throughout the left middle cerebral artery territory",
                   "bright on the b1000 images")),
              Pic(mri_stroke, dict(seq="adc"),
                  ("ADC map: the same region is dark, confirming true restriction rather than T2 "
                   "shine-through, while the ventricles are bright."),
                  ("dark on the apparent diffusion coefficient map",))]),
        ],
        discussion=("Most ischaemic strokes result from occlusion of a cerebral artery by thrombus, and in a "
                    "patient with atrial fibrillation an embolus from the left atrial appendage is the "
                    "likely source. In the first hours non-contrast CT serves mainly to exclude haemorrhage; "
                    "early ischaemic signs include loss of grey-white differentiation, effaced sulci and a "
                    "hyperdense artery containing clot. The ASPECTS score divides the middle cerebral artery "
                    "territory into ten regions and subtracts one point for each region with early change, "
                    "so a lower score means a larger infarct and less benefit from reperfusion. "
                    "Diffusion-weighted MRI becomes abnormal within minutes because cytotoxic oedema "
                    "restricts the movement of water, whereas FLAIR signal appears only after several hours. "
                    "A lesion that is visible on DWI but not on FLAIR therefore suggests a recent onset and "
                    "can support thrombolysis in a stroke discovered on waking. A proximal occlusion with a "
                    "severe deficit should also prompt CT angiography and referral for mechanical "
                    "thrombectomy, which greatly improves the chance of independence. Anticoagulation is "
                    "then started for secondary prevention, timed according to the size of the infarct. "
                    "Swallowing is screened before the patient eats or drinks, because aspiration pneumonia "
                    "is a common early complication."),
    ),
    dict(  # demo-026
        title="Obstructing right ureteric calculus",
        systems=["Genitourinary system"],
        certainty="Diagnosis certain", age="38 years", gender="Male",
        presentation=("Sudden, severe colicky pain in the right loin radiating to the groin, with nausea; he "
                      "cannot keep still. Urine dipstick shows blood. Temperature and creatinine are "
                      "normal."),
        groups=[
            ("ultrasound",
             ("Ultrasound of the right kidney shows moderate hydronephrosis, with a dilated renal pelvis and "
              "dilated, communicating calyces. The renal cortex is of normal thickness. The left kidney was "
              "normal."),
             [Pic(sono, dict(target="kidney"),
                  ("Long-axis view of the right kidney: branching dark fluid spaces within the bright "
                   "central sinus, joined to a dilated pelvis."),
                  ("moderate hydronephrosis", "dilated, communicating calyces"))]),
            ("ct",
             ("Low-dose CT of the kidneys, ureters and bladder shows a 6 mm calculus in the proximal right "
              "ureter below the lower pole of the kidney, with dilatation of the ureter above it and of the "
              "right renal pelvis and calyces. There is perinephric and periureteric fat stranding. No other "
              "stones are seen."),
             [Pic(ct_abdo, dict(finding="hydro"),
                  ("Slice through the kidneys: the right renal pelvis and calyces are dilated with hazy fat "
                   "around the kidney; the left kidney is normal."),
                  ("right renal pelvis and calyces", "perinephric and periureteric fat stranding")),
              Pic(ct_abdo, dict(finding="stone"),
                  ("Lower slice: a bright stone sits in the right ureter with a rim of ureteric wall and "
                   "stranding around it."),
                  ("6 mm calculus in the proximal right ureter", "periureteric fat stranding"))]),
        ],
        discussion=("Renal colic is caused by a stone obstructing the ureter, which raises the pressure in "
                    "the collecting system and causes intense, colicky pain. Low-dose non-contrast CT is the "
                    "reference test in adults because nearly all stones are dense on CT and it shows their "
                    "size and position, while ultrasound is preferred in pregnancy and in children. Stones "
                    "smaller than about 5 mm usually pass on their own, and alpha-blockers help larger "
                    "distal stones to pass. Fever with an obstructed kidney is an emergency that needs "
                    "urgent drainage by nephrostomy or a ureteric stent."),
    ),
    dict(  # demo-027: short, no discussion
        title="Left common femoral deep vein thrombosis",
        systems=["Vascular system"],
        certainty="Diagnosis certain", age="66 years", gender="Female",
        presentation=("Swollen, painful left calf and thigh for four days, ten days after a hip "
                      "replacement."),
        groups=[
            ("ultrasound",
             ("Compression ultrasound of the left groin shows echogenic thrombus distending the common "
              "femoral vein, which does not compress under probe pressure. The adjacent artery is normal."),
             [Pic(sono, dict(target="dvt"),
                  "Transverse view without pressure: the vein beside the artery is filled with grey echoes.",
                  ("echogenic thrombus distending the common femoral vein",)),
              Pic(sono, dict(target="dvt", view="compress"),
                  "Same view with probe pressure: the vein keeps its round shape.",
                  ("does not compress under probe pressure",))]),
        ],
    ),
    dict(  # demo-028: not annotated
        title="Fibroadenoma of the right breast",
        systems=["Breast"],
        certainty="Diagnosis probable", age="23 years", gender="Female", annotated=False,
        presentation=("Noticed a smooth, mobile, painless lump in the right breast while showering; no "
                      "family history of breast cancer."),
        groups=[
            ("ultrasound",
             ("Targeted ultrasound of the right breast at the 10 o'clock position shows an oval, "
              "circumscribed, hypoechoic mass of 19 x 10 mm, parallel to the skin, with a thin echogenic "
              "capsule and mild posterior acoustic enhancement. There is no internal vascularity on Doppler "
              "and no abnormal axillary lymph node. Assessment BI-RADS 3."),
             [Pic(sono, dict(target="fibroadenoma"))]),
        ],
        discussion=("A fibroadenoma is a benign tumour of both glandular and stromal tissue and the "
                    "commonest breast mass in women under 30. It is typically well defined, mobile and "
                    "painless. On ultrasound an oval, circumscribed mass lying parallel to the skin is "
                    "classically benign, and in a young woman it can be followed with a short-interval scan "
                    "instead of a biopsy. A core biopsy is still reasonable if the mass grows or the patient "
                    "prefers certainty."),
    ),
    dict(  # demo-029: one image is an exact byte copy of another
        title="Osteosarcoma of the distal femur",
        systems=["Musculoskeletal system", "Paediatrics", "Oncology"],
        certainty="Diagnosis probable", age="15 years", gender="Male",
        presentation=("Aching pain above the left knee for three months, now waking him at night, and a firm "
                      "swelling on the outer side of the lower thigh. No history of injury."),
        groups=[
            ("xray",
             ("AP and lateral radiographs of the left distal femur show an ill-defined lesion of mixed "
              "sclerosis in the metaphysis with a wide zone of transition. Fine spicules of periosteal new "
              "bone radiate from the cortex in a sunburst pattern, and a Codman triangle lifts the "
              "periosteum at the upper margin. A soft-tissue mass extends from the bone. The growth plate is "
              "open and the epiphysis appears spared."),
             [Pic(xray_femur, dict(view="ap"),
                  ("AP view: hazy sclerosis in the lateral metaphysis with sunburst spicules, a small Codman "
                   "triangle above them and a soft-tissue mass."),
                  ("ill-defined lesion of mixed sclerosis in the metaphysis",
                   "sunburst pattern",
                   "Codman triangle")),
              Pic(xray_femur, dict(view="lat"),
                  ("Lateral view: the periosteal spicules and the soft-tissue mass project posteriorly, "
                   "above the open growth plate."),
                  ("Fine spicules of periosteal new bone", "growth plate is open")),
              Pic(None, {},
                  ("AP view: hazy sclerosis in the lateral metaphysis with sunburst spicules, a small Codman "
                   "triangle above them and a soft-tissue mass."),
                  ("ill-defined lesion of mixed sclerosis in the metaphysis",
                   "sunburst pattern",
                   "Codman triangle"), same_as=0)]),
        ],
        discussion=("Osteosarcoma is the commonest primary malignant bone tumour of adolescents and arises "
                    "during the growth spurt, most often in the metaphysis of the distal femur or proximal "
                    "tibia. Night pain and a mass should prompt a radiograph instead of being put down to "
                    "growing pains. Aggressive features include a wide zone of transition, a sunburst "
                    "periosteal reaction, a Codman triangle and a soft-tissue mass containing tumour bone. "
                    "MRI of the whole bone defines the local extent and any skip lesions, and chest CT looks "
                    "for lung metastases before a biopsy planned with the surgical team. Treatment combines "
                    "chemotherapy with limb-sparing surgery."),
    ),
    dict(  # demo-030
        title="Hepatocellular carcinoma in hepatitis C cirrhosis",
        systems=["Hepatobiliary system", "Oncology"],
        certainty="Diagnosis certain", age="64 years", gender="Male",
        presentation=("Known hepatitis C cirrhosis under six-monthly surveillance; a new 4 cm lesion was "
                      "seen on ultrasound. Alpha-fetoprotein 380 ng/mL. No symptoms."),
        groups=[
            ("ct",
             ("Multiphase contrast-enhanced CT shows a cirrhotic liver with a nodular contour. A 38 mm "
              "lesion in the right lobe enhances avidly and heterogeneously in the late arterial phase and "
              "becomes hypodense to the surrounding liver in the portal venous phase, with an enhancing "
              "capsule. The portal vein is patent. There is splenomegaly and no ascites. LI-RADS 5."),
             [Pic(ct_abdo, dict(finding="hcc_arterial"),
                  ("Late arterial phase: a bright, mottled lesion in the right lobe stands out against the "
                   "darker liver, whose outline is nodular."),
                  ("enhances avidly and heterogeneously in the late arterial phase", "nodular contour")),
              Pic(ct_abdo, dict(finding="hcc_portal"),
                  ("Portal venous phase: the lesion is now darker than the liver and rimmed by an enhancing "
                   "capsule."),
                  ("becomes hypodense to the surrounding liver", "enhancing capsule"))]),
        ],
        discussion=("Hepatocellular carcinoma develops mostly in cirrhotic livers, which is why patients "
                    "with cirrhosis are offered ultrasound surveillance every six months. The tumour draws "
                    "its blood supply from the hepatic artery rather than the portal vein, so it enhances "
                    "strongly in the arterial phase and appears to wash out later. In a cirrhotic liver a "
                    "lesion of 10 mm or more with arterial hyperenhancement, washout and a capsule is "
                    "diagnostic without biopsy. Treatment depends on the tumour burden, liver function and "
                    "performance status, and ranges from ablation, resection or transplantation to "
                    "locoregional and systemic therapy."),
    ),
    dict(  # demo-031
        title="Infrarenal abdominal aortic aneurysm",
        systems=["Vascular system", "Cardiovascular system"],
        certainty="Diagnosis certain", age="74 years", gender="Male",
        presentation=("Former smoker with hypertension; a pulsatile mass was felt in the upper abdomen at a "
                      "routine examination. No abdominal or back pain."),
        groups=[
            ("ultrasound",
             ("Transverse ultrasound of the abdominal aorta shows a fusiform aneurysm with a maximum "
              "anteroposterior diameter of 5.8 cm and a crescent of mural thrombus along its wall. The "
              "inferior vena cava is compressed but patent."),
             [Pic(sono, dict(target="aorta"),
                  ("Transverse view above the vertebral body: a large round aorta with a grey crescent of "
                   "thrombus around the dark lumen; the vertebra casts a shadow."),
                  ("fusiform aneurysm", "crescent of mural thrombus"))]),
            ("ct",
             ("Contrast-enhanced CT confirms an infrarenal abdominal aortic aneurysm of 5.9 cm with "
              "eccentric mural thrombus and calcification in the wall. There is no periaortic stranding or "
              "haematoma to suggest rupture. The neck below the renal arteries is 18 mm long."),
             [Pic(ct_abdo, dict(finding="aaa"),
                  ("Axial slice below the kidneys: a wide aorta with a thick layer of low-density thrombus "
                   "and a bright calcified rim."),
                  ("eccentric mural thrombus", "calcification in the wall"))]),
        ],
        discussion=("An abdominal aortic aneurysm is a permanent dilatation of the aorta to 3 cm or more, "
                    "most often below the renal arteries, and it is strongly associated with smoking, male "
                    "sex, age and hypertension. Most are silent until they rupture, which is why screening "
                    "programmes offer a single ultrasound to older men. The risk of rupture rises steeply "
                    "with diameter, so repair is usually advised once the aneurysm reaches 5.5 cm in men or "
                    "grows faster than 1 cm a year. Endovascular repair needs a suitable neck below the "
                    "renal arteries, which is assessed on CT."),
    ),
    dict(  # demo-032: one keyframe file is not an image
        title="Ileocolic intussusception",
        systems=["Gastrointestinal system", "Paediatrics"],
        certainty="Diagnosis certain", age="14 months", gender="Male",
        presentation=("Bouts of inconsolable crying with the legs drawn up every 15 to 20 minutes since last "
                      "night, two vomits and a stool like redcurrant jelly this morning; pale and drowsy "
                      "between the bouts."),
        groups=[
            ("ultrasound",
             ("Ultrasound of the right upper abdomen shows a 3.2 cm mass with alternating rings of bowel "
              "wall in cross-section, a target appearance, containing a crescent of echogenic mesenteric "
              "fat. In the longitudinal plane it forms a pseudokidney. There is no free fluid, and blood "
              "flow in the bowel wall is preserved."),
             [Pic(sono, dict(target="intussusception", view="trans"),
                  ("Transverse view: concentric bright and dark rings of telescoped bowel with a bright "
                   "crescent of fat."),
                  ("target appearance", "crescent of echogenic mesenteric fat")),
              Pic(sono, dict(target="intussusception", view="long"),
                  "Longitudinal view: an oval, layered mass that resembles a kidney.",
                  ("pseudokidney",)),
              Pic(None, {},
                  "Transverse view with colour Doppler: flow is present in the wall of the intussusception.",
                  ("blood flow in the bowel wall is preserved",), unreadable=True)]),
        ],
        discussion=("Intussusception is the telescoping of one segment of bowel into the next, most often "
                    "the terminal ileum into the colon, and it is the commonest cause of bowel obstruction "
                    "between six months and three years of age. A lead point is rarely found in infants, in "
                    "whom swollen lymphoid tissue after a viral illness is thought to start the process. "
                    "Ultrasound is highly accurate. In a stable child without peritonitis, reduction by an "
                    "air or contrast enema under imaging guidance succeeds in most cases; surgery is needed "
                    "when it fails or the bowel has perforated."),
    ),
    dict(  # demo-033
        title="Left peritonsillar abscess",
        systems=["Head and neck"],
        certainty="Diagnosis certain", age="27 years", gender="Female",
        presentation=("Five days of worsening sore throat, now unable to swallow her saliva, with a muffled "
                      "voice and difficulty opening her mouth. The left tonsil bulges towards the midline "
                      "and the uvula points to the right."),
        groups=[
            ("ct",
             ("Contrast-enhanced CT of the neck shows a 3 cm rim-enhancing fluid collection in the left "
              "peritonsillar space, with surrounding soft-tissue swelling that narrows and displaces the "
              "oropharyngeal airway to the right. The parapharyngeal fat is partly effaced, but the "
              "collection does not extend into the retropharyngeal space. The carotid arteries and jugular "
              "veins are patent."),
             [Pic(ct_neck, {},
                  ("Axial slice at the oropharynx: a dark collection with a bright rim on the left side "
                   "(image right) pushes the black airway towards the right."),
                  ("rim-enhancing fluid collection in the left peritonsillar space",
                   "displaces the oropharyngeal airway to the right"))]),
        ],
        discussion=("A peritonsillar abscess, or quinsy, is a collection of pus between the tonsillar "
                    "capsule and the superior constrictor muscle, usually complicating acute tonsillitis in "
                    "adolescents and young adults. Trismus, a muffled voice and deviation of the uvula "
                    "distinguish it from simple tonsillitis. The diagnosis is usually clinical, and CT is "
                    "kept for uncertain cases or suspected spread into the deep neck spaces. Treatment is "
                    "needle aspiration or incision and drainage with antibiotics, and recurrent episodes may "
                    "justify tonsillectomy."),
    ),
    dict(  # demo-034: images without any caption, not annotated
        title="Relapsing-remitting multiple sclerosis, surveillance MRI",
        systems=["Central nervous system"],
        certainty="Diagnosis certain", age="33 years", gender="Female", annotated=False,
        presentation=("Known relapsing-remitting multiple sclerosis on disease-modifying therapy; routine "
                      "annual MRI. No new symptoms."),
        groups=[
            ("mri",
             "",
             [Pic(mri_brain, dict(seq="flair")),
              Pic(mri_brain, dict(seq="t2"))]),
        ],
        discussion=("Surveillance MRI in multiple sclerosis looks for new or enlarging T2 lesions and for "
                    "enhancing lesions, which show disease activity even without a clinical relapse. "
                    "Comparison with the previous scan, acquired with the same protocol, is essential. "
                    "Evidence of activity may lead to a switch to a more effective therapy."),
    ),
]


# --------------------------------------------------------------------------- writing


def _save_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=True)


def _jsonl_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def build_records(image_root: Path) -> list[dict]:
    """Draw every case's images under `image_root` and return the case records."""
    records = []
    for n, case in enumerate(CASES, start=1):
        rid = f"demo-{n:03d}"
        refs, captions = [], []
        for k, (modality, images, findings) in enumerate(case["groups"], start=1):
            for i, (fn, kwargs) in enumerate(images):
                ref = f"{rid}/{modality}_group{k}/{i}.png"
                rng = _rng(f"{ref}")
                levels = 16 if fn is ultrasound else 32
                _save_png(finish(fn(rng, **kwargs), levels=levels), image_root / ref)
                refs.append(ref)
            captions.append("According to the " + "<image>\n" * len(images) + ", " + findings)
        records.append({
            "rid": rid,
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
            "modalities": [g[0] for g in case["groups"]],
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
    corrupt.write_bytes(b"NOT-A-PNG\x00" + _rng("corrupt").integers(0, 256, 700, dtype=np.uint8).tobytes())

    lines = ['{"rid": "demo-bad-1", "messages": [{"role": "user", "content": "**Question:** truncated line\n']
    missing = {"rid": "demo-bad-2", **good, "images": ["demo-001/ct_group1/0.png"]}
    del missing["messages"]
    lines.append(_jsonl_line(missing))
    lines.append(_jsonl_line({"rid": "demo-bad-3", **good, "images": ["demo-bad-3/ct_group1/0.png"]}))
    lines.append(_jsonl_line({"rid": "demo-bad-4", **good, "images": ["demo-bad-4/ct_group1/0.png"]}))
    return lines


def _caption(findings: str) -> str:
    """A search case's findings as a corpus caption: the same text, starting with a capital."""
    return findings[:1].upper() + findings[1:]


def _image_entry(ref: str, description: str, keywords: tuple[str, ...], caption: str,
                 annotated: bool) -> dict:
    if not annotated:
        return {"path": ref}
    missing = [k for k in keywords if k not in caption]
    if missing:  # keywords are phrases of the caption; a typo here would silently break that contract
        raise ValueError(f"{ref}: keywords not in the caption: {missing}")
    return {"path": ref, "description": description, "keywords": list(keywords)}


def _search_case_entry(n: int, case: dict) -> dict:
    """Corpus record of one of the twelve search cases: same images, plus the corpus-only fields."""
    rid = f"demo-{n:03d}"
    groups = []
    pairs = zip(case["groups"], case["notes"], strict=True)
    for k, ((modality, images, findings), notes) in enumerate(pairs, start=1):
        caption = _caption(findings)
        if len(notes) != len(images):
            raise ValueError(f"{rid} group {k}: {len(notes)} notes for {len(images)} images")
        groups.append({"modality": MODALITY_NAMES[modality], "caption": caption,
                       "images": [_image_entry(f"{rid}/{modality}_group{k}/{i}.png", desc, kws, caption, True)
                                  for i, (desc, kws) in enumerate(notes)]})
    return {"id": rid, "title": case["title"], "systems": case["systems"],
            "presentation": case["presentation"], "age": case["age"], "gender": case["gender"],
            "image_groups": groups, "discussion": case["discussion"], "certainty": case["certainty"],
            "annotated": True,
            "qa": {"scenario": case["scenario"], "question": case["question"], "answer": case["answer"]}}


def _write_pic(pic: Pic, path: Path, group_dir: Path, key: str) -> None:
    if pic.unreadable:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(UNREADABLE)
        return
    if pic.same_as is not None:
        path.write_bytes((group_dir / f"{pic.same_as}.png").read_bytes())
        return
    levels = pic.levels or (16 if pic.fn in SPECKLED else 32)
    img = finish(pic.fn(_rng(key), **pic.kwargs), levels=levels)
    if pic.size != SIZE:
        img = img.resize((pic.size, pic.size), Image.NEAREST)  # nearest keeps the few grey levels
    _save_png(img, path)


def _corpus_case_entry(n: int, case: dict, image_root: Path) -> dict:
    """Corpus record of one of the new cases; draws its images under `image_root`."""
    rid = f"demo-{n:03d}"
    annotated = case.get("annotated", True)
    groups = []
    for k, (modality, caption, pics) in enumerate(case["groups"], start=1):
        group = f"{rid}/{modality}_group{k}"
        images = []
        for i, pic in enumerate(pics):
            ref = f"{group}/{i}.png"
            _write_pic(pic, image_root / ref, image_root / group, ref)
            images.append(_image_entry(ref, pic.description, pic.keywords, caption, annotated))
        groups.append({"modality": MODALITY_NAMES[modality], "caption": caption, "images": images})
    entry = {"id": rid, "title": case["title"], "systems": case["systems"],
             "presentation": case["presentation"], "age": case["age"], "gender": case["gender"],
             "image_groups": groups}
    if "discussion" in case:  # two cases have none on purpose
        entry["discussion"] = case["discussion"]
    entry.update(certainty=case["certainty"], annotated=annotated)
    return entry


def corpus_records(image_root: Path) -> list[dict]:
    """All corpus records: the twelve search cases (images already drawn), then the new cases."""
    records = [_search_case_entry(n, case) for n, case in enumerate(CASES, start=1)]
    records += [_corpus_case_entry(n, case, image_root)
                for n, case in enumerate(CORPUS_CASES, start=len(CASES) + 1)]
    return records


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
