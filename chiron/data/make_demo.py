"""Write the bundled demo data set: twelve fictional cases with synthetic, clearly artificial scans.

    python -m chiron.data.make_demo [--out DIR]      # default: chiron/data/demo

Everything here is invented for testing the pipeline: the patients, histories, questions and
reports were written for this project, and every image is drawn from simple shapes (ellipses,
arcs, lines, smoothed noise) with a fixed seed. Nothing is derived from real patients or from
third-party images. Running the generator twice yields byte-identical files.

Output layout (the reference record format, spec §3):
    DIR/cases.jsonl                            12 good records, one JSON object per line
    DIR/bad_cases.jsonl                        4 deliberately broken records (for tests)
    DIR/images/<rid>/<modality>_group<k>/<i>.png
    DIR/README.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import zlib
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
    r, th = _polar()
    sector = (r > 40) & (r < 285) & (np.abs(th) < 0.62)
    echo = np.full((SIZE, SIZE), 0.5)
    shadows: list[tuple[float, float, float]] = []  # (angle, half-width, depth)

    def put(mask: np.ndarray, value: float) -> None:
        echo[mask] = value

    def stone(x: float, y: float, rx: float, ry: float, value: float = 1.7) -> None:
        put(ell(x, y, rx, ry), value)
        depth, ang = math.hypot(x - SIZE / 2, y + 30), math.atan2(x - SIZE / 2, y + 30)
        shadows.append((ang, rx / depth, depth))

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
    shadow = np.zeros((SIZE, SIZE), dtype=bool)
    for ang, half, depth in shadows:
        shadow |= (np.abs(th - ang) < half) & (r > depth)
    echo[shadow] *= 0.08
    field = Image.fromarray(rng.random((86, 86)).astype(np.float32)).resize((SIZE, SIZE), Image.BILINEAR)
    speckle = 0.35 + 1.25 * np.asarray(field, dtype=np.float64) ** 2
    gain = 1.0 - 0.45 * np.clip((r - 40) / 245, 0, 1)
    out = np.where(sector, echo * speckle * gain, 0.0)
    return out


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


# --------------------------------------------------------------------------- the cases

# Each group: (modality folder name, [(generator, kwargs), ...], findings written as a report).
CASES: list[dict] = [
    dict(
        scenario="patient_to_doctor", title="Acute subdural haematoma", certainty="Diagnosis certain",
        age="78 years", gender="Male",
        presentation=("Slipped on an icy step two days ago and struck the back of his head; since this "
                      "morning "
                      "increasingly drowsy with a worsening headache and one episode of vomiting. Takes "
                      "warfarin "
                      "for atrial fibrillation."),
        question=("My grandfather is on blood thinners and banged his head when he fell on the ice. The "
                  "doctor "
                  "said the scan shows something pressing on his brain. Is he bleeding inside his head?"),
        answer="Yes",
        groups=[("ct", [(ct_head, dict(slice=0)), (ct_head, dict(slice=1))],
                 "non-contrast axial CT of the head shows a crescent-shaped hyperdense extra-axial "
                 "collection "
                 "along the right fronto-parietal convexity, up to 11 mm thick, following the inner table of "
                 "the "
                 "skull without crossing the midline. The adjacent sulci are effaced, the right lateral "
                 "ventricle "
                 "is compressed and there is a 6 mm leftward midline shift. No skull fracture is seen.")],
    ),
    dict(
        scenario="doctor_to_doctor", title="Post-primary pulmonary tuberculosis",
        certainty="Diagnosis probable",
        age="34 years", gender="Male",
        presentation=("Six weeks of productive cough, drenching night sweats and 5 kg weight loss, with "
                      "occasional "
                      "blood-streaked sputum; returned three months ago from a long stay in a high-incidence "
                      "region."),
        question=("A 34-year-old man has had a productive cough, night sweats and weight loss for six weeks. "
                  "Imaging shows a thick-walled cavity in the apical segment of the right upper lobe with "
                  "surrounding centrilobular tree-in-bud nodules and no hilar mass. What is the most likely "
                  "diagnosis?"),
        answer="Post-primary (reactivation) pulmonary tuberculosis",
        groups=[("xray", [(xray_chest, dict(view="pa", lesion="tb"))],
                 "the frontal chest radiograph shows a patchy opacity in the right upper zone containing a "
                 "rounded lucency of about 3 cm with a thick, irregular wall and no air-fluid level. The "
                 "left "
                 "lung is clear, the heart is of normal size and there is no pleural effusion."),
                ("ct", [(ct_chest, dict(window="lung", level=0, lesion="tb")),
                        (ct_chest, dict(window="lung", level=1, lesion="tb"))],
                 "axial CT of the chest in lung window shows a 32 mm cavity with a wall up to 6 mm thick in "
                 "the "
                 "apical segment of the right upper lobe. Numerous centrilobular nodules with a branching "
                 "tree-in-bud pattern surround the cavity and extend into the superior segment of the right "
                 "lower lobe. There is no mass, lymph node enlargement or pleural effusion.")],
    ),
    dict(
        scenario="intern_to_senior", title="Acute calculous cholecystitis", certainty="Diagnosis certain",
        age="52 years", gender="Female",
        presentation=("Constant right upper quadrant pain for 18 hours that began after a fatty meal, with "
                      "nausea and a temperature of 38.4 degrees C."),
        question=("While scanning this gallbladder the patient flinched sharply when I pressed the probe "
                  "directly "
                  "over the gallbladder, but not anywhere else in the abdomen. What is this finding called?"),
        answer="Positive sonographic Murphy sign",
        groups=[("ultrasound", [(ultrasound, dict(target="gallbladder", view="long")),
                                (ultrasound, dict(target="gallbladder", view="trans"))],
                 "right upper quadrant ultrasound shows a distended gallbladder with a diffusely thickened "
                 "wall "
                 "of 5 mm and a thin rim of pericholecystic fluid. A 14 mm echogenic focus in the "
                 "gallbladder "
                 "neck casts a clean posterior acoustic shadow and does not move when the patient turns, "
                 "suggesting impaction. Maximal tenderness is elicited under the transducer over the "
                 "gallbladder. The common bile duct measures 4 mm.")],
    ),
    dict(
        scenario="patient_to_doctor", title="Invasive ductal carcinoma of the left breast",
        certainty="Diagnosis probable", age="57 years", gender="Female",
        presentation=("Noticed a firm, painless lump in the upper outer part of the left breast a month ago; "
                      "her "
                      "mother had breast cancer at 60. No nipple discharge."),
        question=("My mammogram report says there is a spiky lump in my left breast. Does that mean I "
                  "definitely "
                  "have breast cancer?"),
        answer="Cannot be determined",
        groups=[("mammography", [(mammography, dict(view="cc")), (mammography, dict(view="mlo"))],
                 "craniocaudal and mediolateral oblique views of the left breast show an irregular "
                 "high-density "
                 "mass of about 18 mm with spiculated margins in the upper outer quadrant, roughly 6 cm from "
                 "the "
                 "nipple, with mild distortion of the surrounding architecture. There are no associated "
                 "microcalcifications and no skin thickening. The breast tissue is heterogeneously dense. "
                 "Assessment BI-RADS 5; tissue sampling is recommended.")],
    ),
    dict(
        scenario="doctor_to_doctor", title="Complete anterior cruciate ligament tear",
        certainty="Diagnosis certain",
        age="24 years", gender="Male",
        presentation=("Felt a pop while changing direction during a football match yesterday; the knee "
                      "swelled "
                      "within two hours and now gives way when he puts weight on it."),
        question=("A 24-year-old footballer twisted his right knee on a planted foot, felt a pop and "
                  "developed "
                  "rapid swelling. MRI shows bone marrow oedema in the lateral femoral condyle and the "
                  "posterior "
                  "lateral tibial plateau with a large joint effusion. Which ligament injury best explains "
                  "this "
                  "pattern?"),
        answer="Complete anterior cruciate ligament tear",
        groups=[("mri", [(mri_knee, dict(view="sag")), (mri_knee, dict(view="cor"))],
                 "sagittal and coronal proton-density fat-suppressed images of the right knee show no "
                 "continuous "
                 "fibres of the anterior cruciate ligament, which is replaced by ill-defined fluid signal in "
                 "the "
                 "intercondylar notch with only a short tibial stump. Kissing bone contusions lie in the mid "
                 "lateral femoral condyle and the posterior lateral tibial plateau. A large effusion "
                 "distends the "
                 "suprapatellar recess. The posterior cruciate ligament and both menisci are intact.")],
    ),
    dict(
        scenario="intern_to_senior", title="Posterior communicating artery aneurysm",
        certainty="Diagnosis certain",
        age="49 years", gender="Female",
        presentation=("Sudden, explosive headache while lifting a heavy box, followed by neck stiffness and "
                      "vomiting; same-day CT showed blood in the basal cisterns."),
        question=("On this left internal carotid angiogram, what is the rounded outpouching arising where "
                  "the "
                  "posterior communicating artery leaves the internal carotid artery?"),
        answer="Saccular posterior communicating artery aneurysm",
        groups=[("dsa", [(dsa, dict(view="lat")), (dsa, dict(view="obl"))],
                 "digital subtraction angiography after left internal carotid artery injection, lateral and "
                 "oblique projections, shows a 7 mm saccular aneurysm with a 3 mm neck arising from the "
                 "supraclinoid internal carotid artery at the origin of the posterior communicating artery, "
                 "projecting posteriorly and inferiorly, with a small daughter lobule at its dome. The "
                 "anterior "
                 "and middle cerebral arteries fill normally and no second aneurysm is seen.")],
    ),
    dict(
        scenario="patient_to_doctor", title="Torus (buckle) fracture of the distal radius",
        certainty="Diagnosis certain", age="7 years", gender="Male",
        presentation=("Fell onto an outstretched left hand on a trampoline; tender over the distal forearm "
                      "with "
                      "mild swelling and no visible deformity."),
        question=("My son fell on his hand at the trampoline park. The nurse said the bone near his wrist is "
                  "just "
                  "squashed and bulging, not snapped through. Is it still a broken bone?"),
        answer="Yes",
        groups=[("xray", [(xray_wrist, dict(view="ap")), (xray_wrist, dict(view="lat"))],
                 "AP and lateral radiographs of the left wrist show a subtle outward bulge of the radial and "
                 "dorsal cortex of the distal radial metaphysis, about 2.5 cm proximal to the open growth "
                 "plate, "
                 "without a lucent line crossing the bone and without angulation. The physes are of normal "
                 "width "
                 "and the ulna is intact. There is mild soft-tissue swelling over the distal forearm.")],
    ),
    dict(
        scenario="doctor_to_doctor", title="Acute appendicitis", certainty="Diagnosis certain",
        age="11 years", gender="Female",
        presentation=("Pain around the navel for a day that has moved to the right lower abdomen, with loss "
                      "of "
                      "appetite, one episode of vomiting and a temperature of 38.1 degrees C."),
        question=("An 11-year-old girl has abdominal pain that migrated from the umbilicus to the right "
                  "iliac fossa, "
                  "with fever. Ultrasound shows a non-compressible blind-ending tubular structure of 9 mm "
                  "diameter containing an echogenic shadowing focus, and CT shows surrounding fat stranding. "
                  "What is the diagnosis?"),
        answer="Acute appendicitis",
        groups=[("ultrasound", [(ultrasound, dict(target="appendix"))],
                 "graded-compression ultrasound of the right lower quadrant shows a blind-ending, "
                 "non-compressible tubular structure with an outer diameter of 9 mm and a layered wall. A 6 "
                 "mm "
                 "echogenic focus with posterior shadowing lies near its base. The surrounding fat is "
                 "echogenic "
                 "and there is a small amount of free fluid."),
                ("ct", [(ct_abdomen, dict(level=0)), (ct_abdomen, dict(level=1))],
                 "contrast-enhanced axial CT of the lower abdomen shows a dilated, thick-walled appendix "
                 "with "
                 "mural enhancement in the right iliac fossa, a 6 mm calcified appendicolith near its base "
                 "and "
                 "stranding of the periappendiceal fat. There is no extraluminal gas or abscess. The other "
                 "bowel "
                 "loops are unremarkable.")],
    ),
    dict(
        scenario="intern_to_senior", title="Acute pulmonary embolism", certainty="Diagnosis certain",
        age="41 years", gender="Female",
        presentation=("Sudden breathlessness and right-sided pleuritic chest pain four days after a "
                      "long-haul "
                      "flight; heart rate 112 per minute, oxygen saturation 91% on room air."),
        question=("On this CT pulmonary angiogram, what is the sign called when an artery seen in "
                  "cross-section "
                  "has a central low-attenuation filling defect surrounded by a thin ring of contrast?"),
        answer="Polo mint sign",
        groups=[("ct", [(ct_chest, dict(window="angio", level=0, lesion="pe")),
                        (ct_chest, dict(window="angio", level=1, lesion="pe"))],
                 "CT pulmonary angiography shows a filling defect in the right main pulmonary artery that "
                 "extends into the right lower lobe segmental arteries; where these vessels are cut in "
                 "cross-section the defect is surrounded by a thin rim of enhancing blood. The main "
                 "pulmonary "
                 "artery measures 27 mm and the right-to-left ventricular ratio is 0.9. A small wedge-shaped "
                 "pleural-based opacity in the right lower lobe suggests early infarction.")],
    ),
    dict(
        scenario="patient_to_doctor", title="Relapsing-remitting multiple sclerosis",
        certainty="Diagnosis probable",
        age="29 years", gender="Female",
        presentation=("Two episodes of blurred vision in the right eye with pain on moving the eye over the "
                      "past "
                      "year, and tingling in both legs for three weeks."),
        question=("The report on my brain scan talks about lots of small white spots. I'm really scared - "
                  "does "
                  "it show a brain tumour?"),
        answer="No",
        groups=[("mri", [(mri_brain, dict(seq="t2")), (mri_brain, dict(seq="flair")),
                         (mri_brain, dict(seq="t1c")), (mri_brain, dict(seq="dwi"))],
                 "axial T2-weighted, FLAIR, contrast-enhanced T1-weighted and diffusion-weighted images of "
                 "the "
                 "brain show multiple ovoid hyperintense white-matter lesions of 3 to 9 mm oriented "
                 "perpendicular "
                 "to the lateral ventricles, with further juxtacortical lesions. One right periventricular "
                 "lesion shows open-ring enhancement after contrast, indicating activity. There is no mass "
                 "effect and no restricted diffusion.")],
    ),
    dict(
        scenario="doctor_to_doctor", title="Infantile hypertrophic pyloric stenosis",
        certainty="Diagnosis certain",
        age="5 weeks", gender="Male",
        presentation=("Forceful, non-bilious vomiting after every feed for five days, hungry again straight "
                      "afterwards, with fewer wet nappies; a firm olive-sized lump is felt in the upper "
                      "abdomen "
                      "during a test feed."),
        question=("A 5-week-old boy has projectile non-bilious vomiting after every feed. The radiograph "
                  "shows a "
                  "distended gastric air bubble with little distal gas, and ultrasound shows a pyloric "
                  "muscle "
                  "wall of 4.8 mm and a channel length of 19 mm. What is the diagnosis?"),
        answer="Infantile hypertrophic pyloric stenosis",
        groups=[("xray", [(xray_abdomen_infant, {})],
                 "the supine abdominal radiograph shows a markedly distended, gas-filled stomach in the left "
                 "upper quadrant with very little gas in the small and large bowel. There is no free gas and "
                 "no "
                 "portal venous gas."),
                ("ultrasound", [(ultrasound, dict(target="pylorus", view="long")),
                                (ultrasound, dict(target="pylorus", view="trans"))],
                 "longitudinal and transverse ultrasound of the pylorus shows a thickened hypoechoic muscle "
                 "wall "
                 "of 4.8 mm, an elongated pyloric channel of 19 mm and a target appearance in cross-section. "
                 "No "
                 "gastric contents passed through the channel during ten minutes of observation.")],
    ),
    dict(
        scenario="intern_to_senior", title="Right middle lobe pneumonia", certainty="Diagnosis probable",
        age="63 years", gender="Male",
        presentation=("Three days of fever, cough with rust-coloured sputum and right-sided chest pain; "
                      "crackles "
                      "over the right lower anterior chest."),
        question=("On this frontal chest film the right heart border can no longer be seen where the "
                  "consolidation lies against it. What is this radiological sign called?"),
        answer="Silhouette sign",
        groups=[("xray", [(xray_chest, dict(view="pa", lesion="rml")),
                          (xray_chest, dict(view="lat", lesion="rml"))],
                 "posteroanterior and lateral chest radiographs show airspace consolidation with air "
                 "bronchograms in the right mid zone that obscures the right heart border, while the right "
                 "hemidiaphragm remains sharp. On the lateral view the opacity is wedge-shaped, bounded by "
                 "the "
                 "horizontal and oblique fissures and projected over the heart. There is no pleural effusion "
                 "or "
                 "pneumothorax.")],
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


README = ("Fictional demo cases (invented patients, questions and reports) with synthetic images drawn from "
          "simple shapes; generated by chiron/data/make_demo.py, not real patient data.\n"
          "Regenerate (byte-identical) with: python -m chiron.data.make_demo --out chiron/data/demo\n")


def generate(out: str | os.PathLike = DEFAULT_OUT) -> dict:
    out = Path(out)
    image_root = out / "images"
    out.mkdir(parents=True, exist_ok=True)
    records = build_records(image_root)
    with open(out / "cases.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(_jsonl_line(r) for r in records)
    with open(out / "bad_cases.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(bad_lines(image_root))
    (out / "README.md").write_bytes(README.encode("utf-8"))
    return {"out": str(out), "cases": len(records), "images": sum(len(r["images"]) for r in records)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    summary = generate(args.out)
    print(f"wrote {summary['cases']} cases and {summary['images']} images to {summary['out']}")


if __name__ == "__main__":
    main()
