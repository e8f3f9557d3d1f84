"""The generalisation protocol of bench/extraction.py: newsflow's body rules judged on held-out
publishers, per-page wins and losses against plain trafilatura, and the worst pages explained.

- Ablation: every rule of ``tasks.extract.body.RULES`` is switched off in turn on every dev page.
  A rule helps a publisher when switching it off lowers that publisher's mean page F1, hurts it when
  switching it off raises it.
- Leave-one-publisher-out: for each publisher, the rules are judged on the *other* publishers only
  (a rule is kept when it helps more of them than it hurts), and the held-out publisher's pages
  are extracted with the rules so kept. The LOPO F1 is the corpus F1 of those pages: what the rule
  set scores on publishers it was not chosen on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.extraction_metric import Score, corpus_prf, page_f1, precision, recall

EPS = 1e-9
Texts = Callable[[frozenset[str], Sequence[str]], dict[str, Any]]  # skip set, page ids -> scores


def publisher(key: str) -> str:
    """The publisher of a dev page id (``de_Bild_2023_05_15`` -> ``de_Bild``) or of a fundus
    page id (``de/Bild_2023_05_15.html.gz`` -> ``de/Bild``)."""
    return "_".join(key.removesuffix(".html.gz").split("_")[:-3]) or key


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    helps: frozenset[str]  # publishers whose mean F1 drops without the rule
    hurts: frozenset[str]  # publishers whose mean F1 rises without the rule
    f1_without: float

    def kept(self, held_out: str | None = None) -> bool:
        """Kept when it helps more publishers than it hurts (``held_out`` not counted)."""
        return len(self.helps - {held_out}) > len(self.hurts - {held_out})


def _by_publisher(
    scores: Mapping[str, Any], value: Callable[[Any], float] = page_f1
) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for key, score in scores.items():
        groups[publisher(key)].append(value(score))
    return {name: sum(values) / len(values) for name, values in groups.items()}


def _body_f1(scores: Mapping[str, Score]) -> float:
    return corpus_prf(scores.values())[2]


def verdicts(
    full: Mapping[str, Any],
    ablated: Mapping[str, Mapping[str, Any]],
    value: Callable[[Any], float] = page_f1,
    overall: Callable[[Mapping[str, Any]], float] = _body_f1,
) -> list[RuleVerdict]:
    """One verdict per rule from the full run's scores and the run without each rule (``value``:
    a page's score as a number, ``overall``: the corpus figure of a run)."""
    base = _by_publisher(full, value)
    out = []
    for rule, scores in ablated.items():
        without = _by_publisher(scores, value)
        helps = frozenset(p for p in base if base[p] > without[p] + EPS)
        hurts = frozenset(p for p in base if base[p] < without[p] - EPS)
        out.append(RuleVerdict(rule, helps, hurts, overall(scores)))
    return out


def leave_one_publisher_out(
    full: Mapping[str, Any], rules: Sequence[RuleVerdict], texts: Texts
) -> dict[str, Any]:
    """Every page scored with the rules kept when its publisher was held out."""
    pages: dict[str, list[str]] = defaultdict(list)
    for key in full:
        pages[publisher(key)].append(key)
    out: dict[str, Any] = {}
    for name, keys in pages.items():
        skip = frozenset(v.rule for v in rules if not v.kept(name))
        out.update({k: full[k] for k in keys} if not skip else texts(skip, keys))
    return out


def wins_losses(ours: Mapping[str, Score], theirs: Mapping[str, Score]) -> tuple[int, int, int]:
    """(pages where ours scores higher, lower, the same)."""
    counts: Counter[str] = Counter()
    for key, score in ours.items():
        diff = page_f1(score) - page_f1(theirs[key])
        counts["win" if diff > EPS else "loss" if diff < -EPS else "tie"] += 1
    return counts["win"], counts["loss"], counts["tie"]


def diagnosis(
    key: str, ours: Score, reference: Score, ablated: Mapping[str, Mapping[str, Score]]
) -> str:
    """What went wrong on a page: missed text (recall) or extra text (precision), against the
    reference extractor, and the rule whose removal would help the page most."""
    p, r = precision(*ours), recall(*ours)
    kind = "empty" if ours[0] + ours[1] == 0 else "missed text" if r < p else "extra text"
    line = f"{kind}: P {p:.2f} R {r:.2f} (favor_precision P {precision(*reference):.2f} "
    line += f"R {recall(*reference):.2f})"
    gains = {rule: page_f1(s[key]) - page_f1(ours) for rule, s in ablated.items()}
    rule, gain = max(gains.items(), key=lambda kv: kv[1], default=("", 0.0))
    return line + (f"; without {rule!r} +{gain:.3f}" if gain > EPS else "; no rule to blame")


def print_verdicts(rules: Sequence[RuleVerdict], publishers: int, without: str) -> None:
    """The table of rule verdicts (``without``: the header of the figure without the rule)."""
    print(f"\nrules: off in turn; publishers helped / hurt ({publishers} publishers)")
    print(f"{'rule':<10} {'helps':>5} {'hurts':>5} {without:>10}  verdict")
    for v in rules:
        verdict = "kept" if v.kept() else "DROP (helps no more publishers than it hurts)"
        if not v.helps and not v.hurts:
            verdict = "neutral (changes no publisher's score here)"
        print(f"{v.rule:<10} {len(v.helps):5d} {len(v.hurts):5d} {v.f1_without:10.4f}  {verdict}")


def report(
    full: Mapping[str, Score],
    ablated: Mapping[str, Mapping[str, Score]],
    others: Mapping[str, Mapping[str, Score]],
    texts: Texts,
    worst: int = 20,
) -> dict[str, float]:
    """Print the protocol's tables; returns the figures the goal lines check."""
    rules = verdicts(full, ablated)
    print_verdicts(rules, len(_by_publisher(full)), "F1 without")
    lopo = leave_one_publisher_out(full, rules, texts)
    lopo_f1 = corpus_prf(lopo.values())[2]
    print(f"\nleave-one-publisher-out F1 {lopo_f1:.4f}")
    print(f"\nper page against plain trafilatura ({len(full)} pages)")
    print(f"{'against':<22} {'wins':>5} {'losses':>6} {'ties':>5}")
    for name, scores in others.items():
        print(f"{name:<22} {' '.join(f'{n:5d}' for n in wins_losses(full, scores))}")
    reference = others["favor_precision"]
    print(f"\n{worst} worst pages (newsflow F1, favor_precision F1, what went wrong)")
    for key in sorted(full, key=lambda k: page_f1(full[k]))[:worst]:
        why = diagnosis(key, full[key], reference[key], ablated)
        print(f"  {page_f1(full[key]):.3f} {page_f1(reference[key]):.3f} {key}: {why}")
    wins, losses, _ = wins_losses(full, reference)
    return {"lopo": lopo_f1, "wins": wins, "losses": losses}
