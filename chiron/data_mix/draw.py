"""Drawing each stage's samples from the sources, reproducibly.

Every random choice comes from `random.Random(f"{seed}:{key}")`, whose string seeding goes through
SHA-512 (never Python's per-process salted `hash()`), so a draw depends only on the seed, its key
("<stage>/<source>") and that source's own samples: adding, removing or editing another source, or
another stage, leaves it unchanged.

Bad images: with an `ImageScreen`, a drawn sample whose image fails `chiron.llm.images.check_image`
(or whose path was refused as outside its root) is dropped, counted, and replaced by a further
draw from the same seeded stream, so the stage still gets its count. Only what is needed is
checked: a draw below the source's size checks the samples it picks (and their replacements), a
draw of one or more full copies checks the whole source; text-only samples cost nothing, and each
image file is checked once per process whatever the number of samples, stages and copies using
it. With no bad image the draw is exactly the unscreened one.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from chiron.data.sample import Sample
from chiron.data_mix.plan import MixPlan
from chiron.llm.images import REFUSED_IMAGES, BadImage, check_image

log = logging.getLogger(__name__)

_MAX_EXAMPLES = 5


class ImageScreen:
    """Which samples a mix may hold: every image passes check_image and none was refused as outside
    its root. Verdicts are memoized per (source, sample id); what was found bad is kept per source
    for the manifest, and per draw key (`met`) for each stage's count."""

    def __init__(self, check: Callable[[str], None] = check_image) -> None:
        self._check = check
        self._verdicts: dict[tuple[str, str], bool] = {}
        self.bad: dict[str, dict[str, dict]] = {}  # source -> sample id -> {category, image, reason}
        self.pool_dropped: dict[str, set[str]] = {}  # source -> ids refused before any draw
        self.met: dict[str, set[str]] = {}  # draw key "<stage>/<source>" -> bad ids that draw set aside
        self.checked: Counter = Counter()  # source -> samples checked

    def drop(self, source: str, sample_id: str, exc: BadImage) -> None:
        """A sample refused while its source was read (e.g. an image path outside its root)."""
        self._mark_bad(source, sample_id, exc)
        self.pool_dropped.setdefault(source, set()).add(sample_id)

    def usable(self, sample: Sample, key: str | None = None) -> bool:
        memo = (sample.source, sample.id)
        verdict = self._verdicts.get(memo)
        if verdict is None:
            verdict = self._judge(sample)
            self._verdicts[memo] = verdict
        if not verdict and key is not None:
            self.met.setdefault(key, set()).add(sample.id)
        return verdict

    def for_key(self, key: str) -> Callable[[Sample], bool]:
        return _KeyedVerdict(self, key)

    def prefetch(self, samples: Sequence[Sample]) -> None:
        """Check the not yet judged samples' image files in parallel (PIL decodes without the GIL);
        the verdicts land in check_image's memo, so the `usable` calls that follow are lookups."""
        paths = list(dict.fromkeys(p for s in samples if (s.source, s.id) not in self._verdicts
                                   for p in s.images))
        workers = min(16, os.cpu_count() or 1)
        if len(paths) < 64 or workers < 2:
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image-check") as pool:
            for _ in pool.map(self._quiet_check, paths, chunksize=64):
                pass

    def _quiet_check(self, path: str) -> None:
        try:
            self._check(path)
        except BadImage:
            pass  # judged again (from the memo) by `usable`, which records it

    def dropped(self, source: str, key: str) -> int:
        """Samples of `source` left out of the draw `key` for a bad image."""
        return len(self.pool_dropped.get(source, set()) | self.met.get(key, set()))

    def summary(self, source: str) -> dict:
        bad = self.bad.get(source, {})
        return {"dropped_bad_image": len(bad), "samples_checked": self.checked[source],
                "by_category": dict(Counter(b["category"] for b in bad.values())),
                "examples": [{"id": i, **b} for i, b in list(bad.items())[:_MAX_EXAMPLES]]}

    def _judge(self, sample: Sample) -> bool:
        if not sample.images:
            return True
        self.checked[sample.source] += 1
        refused = (sample.meta or {}).get(REFUSED_IMAGES) or {}
        for path in sample.images:
            try:
                if path in refused:
                    raise BadImage(str(refused[path]), "outside_root", path)
                self._check(path)
            except BadImage as exc:
                self._mark_bad(sample.source, sample.id, exc)
                return False
        return True

    def _mark_bad(self, source: str, sample_id: str, exc: BadImage) -> None:
        found = self.bad.setdefault(source, {})
        if not found:
            log.warning("%s: sample %s dropped from the mix: %s", source, sample_id, exc)
        found[sample_id] = {"category": exc.category, "image": exc.path, "reason": str(exc)}


class _KeyedVerdict:
    """An ImageScreen's verdict for one draw key (what `draw` calls `usable`)."""

    def __init__(self, screen: ImageScreen, key: str) -> None:
        self.screen, self.key = screen, key

    def __call__(self, sample: Sample) -> bool:
        return self.screen.usable(sample, self.key)

    def prefetch(self, samples: Sequence[Sample]) -> None:
        self.screen.prefetch(samples)


def draw(samples: Sequence[Sample], count: int, seed: int, key: str,
         usable: Callable[[Sample], bool] | None = None) -> list[Sample]:
    """`count` samples from `samples`: floor(count/size) full copies plus a random subset (without
    replacement) for the remainder; below the source's size just a random subset.

    Copy k >= 2 of a sample gets id "<id>#r<k>"; every drawn sample records the original id in
    meta["origin_id"]. Drawn samples share their messages and image lists with the originals (a
    paper-scale stage holds ~1.75M samples): treat them as read-only.

    With `usable` (an ImageScreen's verdict), samples it refuses are never drawn: a subset draw
    replaces each refused pick by a further pick from the same seeded stream; a draw of full copies
    draws from the usable samples only. A source with no usable sample gives nothing (logged).
    """
    if count < 0:
        raise ValueError(f"{key}: count must be >= 0, got {count}")
    if count == 0:
        return []
    if not samples:
        raise ValueError(f"{key}: source is empty but {count} samples are wanted")
    if usable is not None:
        return _draw_usable(samples, count, seed, key, usable)
    full, remainder = divmod(count, len(samples))
    picked = [(s, copy) for copy in range(1, full + 1) for s in samples]
    rng = random.Random(f"{seed}:{key}")
    picked += [(samples[i], full + 1) for i in rng.sample(range(len(samples)), remainder)]
    return [_copy(s, k) for s, k in picked]


def _draw_usable(samples: Sequence[Sample], count: int, seed: int, key: str,
                 usable: Callable[[Sample], bool]) -> list[Sample]:
    n = len(samples)
    prefetch = getattr(usable, "prefetch", None) or (lambda _: None)
    if count >= n:  # every sample is drawn at least once: all of them need checking
        prefetch(samples)
        pool = [s for s in samples if usable(s)]
        if not pool:
            log.warning("%s: all %d samples of the source have a bad image; none drawn", key, n)
            return []
        return draw(pool if len(pool) < n else samples, count, seed, key)
    rng = random.Random(f"{seed}:{key}")
    picks = rng.sample(range(n), count)  # the unscreened draw's picks, in its order
    tried = set(picks)
    prefetch([samples[i] for i in picks])
    good = [i for i in picks if usable(samples[i])]
    while len(good) < count and len(tried) < n:
        rest = [i for i in range(n) if i not in tried]
        extra = rng.sample(rest, min(count - len(good), len(rest)))
        tried.update(extra)
        prefetch([samples[i] for i in extra])
        good += [i for i in extra if usable(samples[i])]
    if len(good) < count:  # fewer usable samples than wanted: full copies of the usable ones
        pool = [samples[i] for i in sorted(good)]
        if not pool:
            log.warning("%s: all %d samples of the source have a bad image; none drawn", key, n)
            return []
        return draw(pool, count, seed, key)
    return [_copy(samples[i], 1) for i in good]


def build_stage(plan_stage: Mapping[str, int], sources: Mapping[str, Sequence[Sample]], seed: int,
                stage_name: str, screen: ImageScreen | None = None) -> list[Sample]:
    """Draw every source of one stage and shuffle them together (seeded by the stage name); with
    `screen`, samples with a bad image are dropped and replaced (see `draw`)."""
    missing = [src for src, n in plan_stage.items() if n > 0 and src not in sources]
    if missing:
        raise ValueError(f"stage {stage_name!r} needs source(s) {missing}, which were not provided "
                         f"(got {sorted(sources)})")
    empty = [src for src, n in plan_stage.items() if n > 0 and not sources[src]]
    emptied = [src for src in empty if screen is not None and screen.pool_dropped.get(src)]
    if set(empty) - set(emptied):
        raise ValueError(f"stage {stage_name!r}: source(s) {sorted(set(empty) - set(emptied))} are empty")
    for src in emptied:  # every sample was refused for its images: like an all-bad draw, nothing drawn
        log.warning("%s/%s: every sample of the source has a bad image; none drawn", stage_name, src)
    out = [s for src, n in plan_stage.items() if n > 0 and sources[src]
           for s in draw(sources[src], n, seed, f"{stage_name}/{src}",
                         None if screen is None else screen.for_key(f"{stage_name}/{src}"))]
    random.Random(f"{seed}:{stage_name}/shuffle").shuffle(out)
    return out


def build_mix(plan: MixPlan, sources: Mapping[str, Sequence[Sample]],
              screen: ImageScreen | None = None) -> dict[str, list[Sample]]:
    """Every stage of `plan`, in curriculum order (one `screen` across them: a file is checked once)."""
    return {stage: build_stage(counts, sources, plan.seed, stage, screen) for stage, counts in plan.stages.items()}


def _copy(sample: Sample, copy: int) -> Sample:
    return Sample(id=sample.id if copy == 1 else f"{sample.id}#r{copy}", source=sample.source,
                  messages=sample.messages, images=sample.images,
                  meta={**sample.meta, "origin_id": sample.meta.get("origin_id", sample.id)})
