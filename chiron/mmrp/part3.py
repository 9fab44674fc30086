"""MMRP Part 3 (paper App. A.3): complex VQA pairs in three clinical scenarios, written by an LLM
from a case record and saved in the reference search input format (spec §3), so `task=search`
reads them directly; and, after the search, the reasoning paths as training conversations."""

from __future__ import annotations

import os
from dataclasses import dataclass

from chiron.data.corpus import CaseRecord, folder_modality
from chiron.data.sample import Sample, single_turn
from chiron.llm.client import CachedModel
from chiron.llm.images import BadImage
from chiron.mmrp.parsing import parse_qa_pair
from chiron.mmrp.prompts import part3_messages
from chiron.mmrp.runner import Outcome
from chiron.mmrp.scenarios import SCENARIOS, SHORT, check_answer
from chiron.utils.paths import resolve_in_root

SOURCE = "mmrp_part3"


@dataclass(frozen=True)
class Part3Settings:
    scenarios: tuple[str, ...] = SCENARIOS
    per_case: str = "one"  # "one": scenarios take turns over the cases in file order; "all": every one
    temperature: float = 0.7
    max_open_words: int = 25

    def __post_init__(self) -> None:
        unknown = set(self.scenarios) - set(SCENARIOS)
        if unknown or not self.scenarios:
            raise ValueError(f"mmrp.part3.scenarios must be a non-empty subset of {SCENARIOS}, got "
                             f"{list(self.scenarios)}")
        if self.per_case not in ("one", "all"):
            raise ValueError(f"mmrp.part3.per_case must be 'one' or 'all', got {self.per_case!r}")

    def scenarios_for(self, case_index: int) -> tuple[str, ...]:
        # Taking turns in file order keeps the three scenarios balanced and needs no randomness.
        if self.per_case == "all":
            return self.scenarios
        return (self.scenarios[case_index % len(self.scenarios)],)


def item_key(case_id: str, scenario: str) -> str:
    return f"{case_id}-{SHORT[scenario]}"


async def write_case_vqa(case: CaseRecord, scenario: str, writer: CachedModel, settings: Part3Settings) -> Outcome:
    groups, unreadable, why = _readable_groups(case)
    info = {"scenario": scenario, "unreadable_images": unreadable}
    if why:
        info["unreadable_why"] = why  # ref -> BadImage category, as Part 2 and every other job name it
    captioned = [g for g in case.image_groups if g.caption.strip()]
    if not captioned:
        return Outcome("skipped", reason="no imaging analysis", info=info)
    if not groups:
        if any(g.images for g in captioned):  # every image of every analysed group is unusable
            return Outcome("skipped", reason="all images unreadable", info=info)
        return Outcome("skipped", reason="no image with an imaging analysis", info=info)
    key = item_key(case.id, scenario)
    reply = await writer.chat(part3_messages(case, scenario), temperature=settings.temperature, case_id=key)
    try:
        pair = parse_qa_pair(reply.text)
        answer = check_answer(scenario, pair.answer, settings.max_open_words)
    except ValueError as exc:
        info["error"] = str(exc)
        reason = "unparseable" if "field" in str(exc) else "answer breaks the scenario's rule"
        return Outcome("ok", drops={reason: 1}, info=info)
    record = {
        "rid": key,
        "messages": [{"role": "user", "content": f"**Question:** {pair.question}"},
                     {"role": "assistant", "content": f"**Correct Answer:** {answer}"}],
        "images": [ref for _, refs in groups for ref in refs],
        "title": case.title, "certainty": case.certainty, "presentation": case.presentation,
        "age_label": case.age, "gender_label": case.gender,
        "caption": ["According to the " + "<image>\n" * len(refs) + ", " + caption for caption, refs in groups],
        "scenario": scenario,
        "case_id": case.id,
    }
    return Outcome("ok", items=[record], info=info)


def _readable_groups(case: CaseRecord) -> tuple[list[tuple[str, list[str]]], list[str], dict[str, str]]:
    """(caption, readable image refs) for each captioned group that keeps an image; unreadable refs
    (check_image, or a path outside the image root); their BadImage categories."""
    groups, unreadable, why = [], [], {}
    for group in case.image_groups:
        refs = []
        for image in group.images:
            try:
                image.check()
                refs.append(image.ref)
            except BadImage as exc:
                unreadable.append(image.ref)
                why[image.ref] = exc.category
        if refs and group.caption.strip():
            groups.append((group.caption.strip(), refs))
    return groups, unreadable, why


def reasoning_sample(record: dict, image_root: str) -> Sample:
    """A searched path as a training conversation: the question with its images grouped by
    modality; the reasoning steps and final answer as the assistant turn. The images are resolved
    inside `image_root`; one outside it raises PathOutsideRoot (a BadImage: the caller drops the
    record). The files themselves are not opened here."""
    refs = list(record["images"])
    groups: dict[str, list[str]] = {}
    for ref in refs:  # images of one group share a folder ("<case>/<modality>_group<k>/")
        groups.setdefault(os.path.dirname(ref), []).append(ref)
    listing = []
    for n, members in enumerate(groups.values(), start=1):
        modality = folder_modality(members[0])
        label = f" ({modality})" if modality else ""
        listing.append(f"Modality {n}{label}: " + "".join("<image>" for _ in members))
    ordered = [ref for members in groups.values() for ref in members]
    user = (f"{record['question']}\nUse the keyframes of each imaging modality ({'; '.join(listing)}) and "
            "reason step by step to reach the answer.")
    images = [resolve_in_root(image_root, ref) for ref in ordered]
    return single_turn(f"part3/{record.get('method', 'search')}/{record['rid']}", SOURCE, user,
                       record["reasoning"], images=images,
                       meta={"rid": record["rid"], "scenario": record.get("scenario"),
                             "method": record.get("method"), "path_scores": record.get("path_scores")})
