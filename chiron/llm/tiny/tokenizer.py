"""The tiny models' vocabulary: the chat format, the offline word lists and the BPE tokenizer trained on them.

Nothing is downloaded: the tokenizer is trained here from the word lists below, which are also
what priming builds its random prompts and replies from (`chiron.llm.tiny.priming_texts`), so the
primed models write whole-word tokens.
"""

from __future__ import annotations

import re
from typing import Any

PAD_TOKEN = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# Named the way InternVLProcessor looks them up on the tokenizer (tokenizer.start_image_token, ...).
IMAGE_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END, *IMAGE_TOKENS.values()]

# ChatML as InternVL renders it: every image becomes one <IMG_CONTEXT> placeholder line before the
# text; the processor later expands it to <img> + image_seq_length*tiles context tokens + </img>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif part['type'] == 'video' %}{{ '<video>\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Words of the random prompts the models are primed on. The tokenizer learns a token for each of
# these, the step words and the answer words below, so primed models write whole words.
_WORDS = """
the a an of in on at to for with without and or not no yes is are was were be this that these
what which where when why how does do show shows shown seen image images picture scan view
patient patients doctor clinical history findings finding diagnosis differential answer question
options option step steps reasoning think therefore because likely most least best final correct
left right upper lower middle anterior posterior lateral medial bilateral unilateral central
chest lung lungs heart liver kidney brain spine bone bones abdomen pelvis knee shoulder hip neck
x-ray ct mri ultrasound pet radiograph axial coronal sagittal contrast enhanced t1 t2 flair
normal abnormal lesion mass nodule tumor cyst fracture effusion edema opacity consolidation
pneumonia pneumothorax cardiomegaly atelectasis hemorrhage infarct stroke calcification
benign malignant metastasis inflammation infection sign signs size shape margin density
a b c d e 0 1 2 3 4 5 6 7 8 9 10 mm cm year old male female man woman pain fever cough
"""

# Words of the primed models' step and reasoning sentences: they sound medical, in random order.
_STEP_WORDS = """
image images scan view shows demonstrates suggests indicates consistent with finding findings
opacity consolidation effusion edema mass nodule lesion cavity fracture collection fluid wall
thickening enhancement shadowing calcification infiltrate density signal lucency contour border
left right upper lower anterior posterior lateral medial central focal diffuse bilateral
lung lobe heart liver kidney brain bone joint vessel artery vein duct bowel appendix breast knee
acute chronic mild moderate severe small large rounded irregular smooth normal abnormal
patient history symptoms pain fever cough swelling tenderness vomiting headache
therefore likely most probable suggests supports excludes favours diagnosis answer question
the a of in on and or with without no is are this that there which
"""

# The final answers primed mentors and interns choose from: every answer of the bundled demo cases
# (chiron/data/demo/cases.jsonl), so some intern answers agree with a case, plus distractors, so
# many do not. The choice never depends on the case: the models only know the format.
PRIMING_ANSWERS = (
    "Yes",
    "No",
    "Cannot be determined",
    "Acute appendicitis",
    "Silhouette sign",
    "Polo mint sign",
    "Positive sonographic Murphy sign",
    "Post-primary (reactivation) pulmonary tuberculosis",
    "Complete anterior cruciate ligament tear",
    "Saccular posterior communicating artery aneurysm",
    "Infantile hypertrophic pyloric stenosis",
    # distractors
    "Pneumonia",
    "Pulmonary embolism",
    "Subdural haematoma",
    "Normal study",
    "Renal cyst",
)

# Format strings the primed models write, fed to the tokenizer trainer so they get their own merges.
_FORMAT_TEXT = "### Step 1: 2: 3: 4: 5: 6: 7: 8: 9: ### The final answer is: Yes No."


def _build_tokenizer() -> Any:
    """Byte-level BPE trained on the word list; byte fallback means any text still tokenizes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        # Large enough that training stops for lack of pairs, not at the cap: every word below
        # becomes one token (with and without its leading space), so the primed models write
        # whole words instead of spelling them out byte by byte.
        vocab_size=4096,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, so nothing is unknown
        show_progress=False,
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        padding_side="left",  # decoder-only batched generation pads on the left
        extra_special_tokens=dict(IMAGE_TOKENS),
        chat_template=CHAT_TEMPLATE,
    )


def _tokenizer_corpus() -> list[str]:
    """The tokenizer's training text: each word lower-case and capitalised, after a space and not."""
    answers = " ".join(PRIMING_ANSWERS)
    words = sorted(set(_WORDS.split()) | set(_STEP_WORDS.split()) | set(re.findall(r"[\w-]+", answers)))
    forms = words + [w.capitalize() for w in words]
    # A word after a space and a word opening a line are different pre-tokens ("Ġlung" vs "lung").
    return [" ".join(forms), "\n".join(forms), answers, _FORMAT_TEXT]
