"""Keep the records whose path passes quality control (App. A.3, App. B) and say why others fail."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from chiron.qc.trends import passes_qc, path_scores_of

NO_SCORES = "no path scores"


def qc_verdict(record: dict, **rule_kwargs) -> tuple[bool, str]:
    """(keep, reason) for one record; a record without path scores is (False, "no path scores")."""
    scores = path_scores_of(record)
    if not scores:
        return False, NO_SCORES
    return passes_qc(scores, **rule_kwargs)


def qc_filter(records: Iterable[dict], enabled: bool, **rule_kwargs) -> tuple[list[dict], Counter]:
    """(kept records, Counter of reasons) under `passes_qc(**rule_kwargs)`.

    The Counter holds one reason per record, kept ones included ("increasing", "constant at full
    score"), so kept + flagged add up to the input. Records without any path scores (vanilla
    searched without `search.score_vanilla_paths`) cannot be judged: when enabled they are
    dropped with reason "no path scores". When disabled every record is kept and the Counter still
    says what QC would have decided, so a report can show it. A record in neither output format
    raises ValueError (from `path_scores_of`) either way: that is a wrong input file, not a bad path.
    """
    kept: list[dict] = []
    reasons: Counter = Counter()
    for record in records:
        keep, reason = qc_verdict(record, **rule_kwargs)
        reasons[reason] += 1
        if keep or not enabled:
            kept.append(record)
    return kept, reasons
