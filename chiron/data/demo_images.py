"""The picture drawers of the demo corpus (make_demo.py): one function per modality and view.

Long (about 900 lines) on purpose: these are the drawers the case data in demo/source names, and they
share private frames (_chest_frame, _fan, _mca_territory), so splitting them would only add imports.
Each drawer takes a seeded generator plus the keyword arguments the case data gives it and returns
floats in [0, 1] on a SIZE x SIZE grid; make_demo.py quantises and saves them. Changing a drawer
changes bundled images, so the twelve search cases' drawers (CT to DSA) are kept apart from the
corpus-only ones below them.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from chiron.data.drawing import Canvas

SEED = 20250611
SIZE = 256
CANVAS = Canvas(SIZE, SEED)
# Short module-level names keep the drawers below readable as geometry.
_X, _Y = CANVAS.X, CANVAS.Y
ell, blob, smooth, layer = CANVAS.ell, CANVAS.blob, CANVAS.smooth, CANVAS.layer
_APEX_Y = -30.0  # the ultrasound probe sits 30 px above the image: the fan starts inside it

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
    depth, ang = math.hypot(x - SIZE / 2, y - _APEX_Y), math.atan2(x - SIZE / 2, y - _APEX_Y)
    return ang, rx / depth, depth


def _fan(rng: np.random.Generator, echo: np.ndarray, shadows: list[tuple[float, float, float]] = (),
         cells: int = 86) -> np.ndarray:
    """Cut an echo map to the probe's sector, with shadows, speckle and depth-dependent gain."""
    r, th = CANVAS.polar(_APEX_Y)
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


def _mri_head(rng: np.random.Generator, s: dict) -> tuple[np.ndarray, np.ndarray]:
    """Scalp, skull (only if `s` has a bone signal), CSF, grey and white matter of an axial brain MRI
    slice, and the texture it used; both brain drawers start from it, so their anatomy agrees."""
    a = np.zeros((SIZE, SIZE))
    tex = smooth(rng, 22)
    a[ell(128, 128, 100, 118)] = s["fat"]
    if "bone" in s:
        a[ell(128, 128, 94, 112)] = s["bone"]
    a[ell(128, 128, 88, 106)] = s["csf"]
    grey = ell(128, 128, 85, 103)
    a[grey] = s["grey"] + 0.03 * tex[grey]
    white = ell(128, 128, 68, 87)
    a[white] = s["white"] + 0.02 * tex[white]
    return a, tex


def mri_brain(rng: np.random.Generator, seq: str = "t2") -> np.ndarray:
    s = _MRI_SIGNAL[seq]
    a, _ = _mri_head(rng, s)
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
    a, tex = _mri_head(rng, s)
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



# Every drawer the case data may name, by function name.
DRAWERS = {fn.__name__: fn for fn in (
    ct_head, ct_chest, ct_abdomen, xray_chest, xray_wrist, xray_abdomen_infant, ultrasound, mammography,
    mri_brain, mri_knee, dsa, xray_pneumothorax, xray_femur, ct_mediastinum, ct_head_stroke, mri_stroke,
    ct_abdo, ct_neck, pet_mip, scintigraphy, fluoroscopy, echocardiogram, sono, oct_bscan, fundus, endoscopy,
)}
SPECKLED = {"ultrasound", "sono", "echocardiogram", "oct_bscan"}  # 16 grey levels keep their noisy PNGs small
