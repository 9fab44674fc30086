"""Content filters for generated QA (paper App. A.1): pairs that refer to their source case or
image, and pairs with no medical subject, are dropped and counted.

"Medical subject" is decided by a transparent heuristic rather than another LLM call: the text
must contain a medical term from a small lexicon (anatomy, pathology, imaging, pharmacology and
the usual medical word endings) or a word of the case's own title (the diagnosis). It exists to
catch off-topic output (a recipe, a refusal, chit-chat), not to grade medical quality.
"""

from __future__ import annotations

import re
from typing import Iterable

DEFAULT_REFERENTIAL = ("this case", "the case", "this image", "these images", "the image above",
                       "this scan", "this patient", "the patient above", "the above case")

_MEDICAL_WORDS = frozenset("""
abdomen abscess acute adenoma anaemia anemia aneurysm angiography antibiotic aorta appendix artery
atrophy biopsy bladder blood bone bowel brain breast bronchus calcification cancer carcinoma cardiac
cartilage cerebral chest chronic cirrhosis colon congenital consolidation contrast coronary cortex
cyst diagnosis disease dose duct effusion embolism enhancement fever fibrosis fluid fracture
gallbladder gland haemorrhage hemorrhage heart hepatic hernia infarct infection inflammation injury
joint kidney lesion ligament liver lobe lung lymph malignant mass metastasis mri muscle necrosis
nerve nodule obstruction oedema edema opacity pain pancreas pathology patient pneumonia pulmonary
radiograph renal rupture sclerosis spine spleen stenosis stroke surgery symptom syndrome therapy
thrombus thrombosis tissue trauma treatment tuberculosis tumour tumor ulcer ultrasound urinary uterus
vascular vein ventricle vertebra ct x-ray pet ecg mammography sonography clinical diagnostic
""".split())
_MEDICAL_ENDINGS = re.compile(
    r"\b\w+(?:itis|oma|osis|emia|aemia|ectomy|otomy|ostomy|plasty|scopy|graphy|pathy|algia|plasia|"
    r"trophy|cardia|megaly|uria|rrhage|rrhea|rrhoea|genic|ology)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z][a-z-]+")


def referential_phrase(text: str, phrases: Iterable[str] = DEFAULT_REFERENTIAL) -> str | None:
    """The first phrase of `phrases` that `text` contains (whole words, any case), else None."""
    lowered = text.lower()
    for phrase in phrases:
        if re.search(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])", lowered):
            return phrase
    return None


def has_medical_subject(text: str, case_title: str = "") -> bool:
    words = set(_WORD.findall(text.lower()))
    if words & _MEDICAL_WORDS or _MEDICAL_ENDINGS.search(text):
        return True
    title_words = {w for w in _WORD.findall(case_title.lower()) if len(w) >= 5}
    return bool(words & title_words)
