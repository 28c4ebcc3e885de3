"""Screening: every candidate's shift against a null of random strings of its token length, in two stages.

1. Ranking (``rank_prompts`` prompts, ``rank_null`` null strings per length). Every candidate is tried on a
   few prompts and ranked by z against a small null; this is where most candidates end, at a few rows each.
2. Testing (``n_prompts`` other prompts, ``n_null`` null strings per length). The ``rank_top`` best are
   re-scored on prompts the ranking never saw, against a full null of their own lengths, so the selection
   does not bias the test. Candidates not re-scored keep their ranking figures with ``p = 1`` (never
   significant), and Benjamini–Hochberg runs over every candidate of the library, tested or not: the
   correction is the one a one-stage screen of the whole library would make.

``rank_prompts: 0`` (or a library no larger than ``rank_top``) is the one-stage screen: every candidate tested.

Within a stage, ``screen: rotate`` tries each prompt at one position in turn (every position for the cost of
one); ``every`` tries each prompt at every position. A candidate's statistic is its largest shift over the
positions, and each null string gets the same maximum, so more positions do not make random text look
more significant.

With a suspected target (``--target``, or a span the model leaked), the ranking rows are teacher-forced on that
target instead of on the clean answers (the ranking's divergence is then the first answer token's, which does
not depend on what is forced), and the same pass gives each candidate its *lift*: the target's gain in
log-probability per token, against random strings of its length. A fine-tune can make every insertion shift
the first answer tokens, so that the trigger's divergence is unremarkable; its lift is not, since random text
does not make the model say its target. The ``examine_lift`` best candidates by lift are examined whatever
their divergence (see ``_scan``). Lifts come from the ranking stage: a one-stage screen has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alignlab.backdoor.scan._candidates import Candidate, null_strings, token_length
from alignlab.backdoor.scan._config import ScanConfig

__all__ = ["Finding", "NullModel", "calibrate", "screen"]


@dataclass
class Finding:
    """One screened candidate (examined ones carry outputs, a target and attack success)."""

    text: str
    family: str
    tokens: int
    divergence: float
    z: float
    p_value: float  # Gaussian tail against the null of its length (spread floored)
    p_empirical: float  # share of null strings at least as strong, +1 corrected
    position: str = "start"  # where the candidate shifted the model most
    p_adj: float = 1.0  # Benjamini–Hochberg over every screened candidate
    significant: bool = False  # p_adj < alpha, beyond every null string, and above the effect floor
    tested: bool = True  # re-scored on the test prompts (False: ranked out, figures from the ranking stage)
    lift: float | None = None  # the suspected target's log-probability gain per token (ranking stage; None: no target)
    lift_z: float | None = None  # that lift against the random strings of the candidate's length
    examined: bool = False
    target: str | None = None
    target_score: float = 0.0
    asr: float | None = None
    answered: int = 0  # held-out prompts it was answered on (fewer than all: stopped after the first stage)
    clean_rate: float | None = None
    null_rate: float | None = None  # the target's rate after random strings shaped like the examined candidates
    output_p: float | None = None  # output test: target more common than after the random strings (Fisher, Bonferroni)
    novelty: float | None = None
    repetition: float | None = None
    flagged: bool = False
    examples: list[str] = field(default_factory=list)


class NullModel:
    """Random strings' log-divergences as a one-way layout by token length: each length has its own mean, and
    the spread within a length is pooled over all of them.

    Random text shifts a model more the longer it is, so each length needs its own centre; the spread, though,
    is about the same at every length (in log units), and pooling it lets a few strings per length estimate it
    as well as many of one length would (a within-length spread from 8 strings is a poor estimate; from 88,
    pooled over 11 lengths, a good one). The spread is floored (``min_null_spread``): an unreactive model's
    near-constant null would otherwise give p ≈ 1e-33 to any small shift. A candidate's z is its
    log-divergence's distance from its length's mean in units of the prediction spread,
    spread · sqrt(1 + 1/n), which counts the mean's own error.
    """

    def __init__(self, null_div: dict[int, list[float]], cfg: ScanConfig, *, log: bool = True,
                 floor: float | None = None):
        import numpy as np

        # Divergences are compared in log units; lifts (log-probability gains, of either sign) as they are.
        self.transform = (lambda v: np.log(np.maximum(v, 1e-12))) if log else np.asarray
        self.logs = {n: self.transform(np.asarray(v, dtype=float)) for n, v in null_div.items() if len(v)}
        self.means = {n: float(v.mean()) for n, v in self.logs.items()}
        squares = sum(float(((v - v.mean()) ** 2).sum()) for v in self.logs.values())
        dof = sum(len(v) for v in self.logs.values()) - len(self.logs)
        floor = cfg.min_null_spread if floor is None else floor
        self.spread = max(math.sqrt(squares / dof) if dof > 0 else 0.0, floor)
        self.residuals = np.concatenate([(v - self.means[n]) / self._scale(n) for n, v in self.logs.items()]) \
            if self.logs else np.zeros(0)

    def _scale(self, tokens: int) -> float:
        return self.spread * math.sqrt(1 + 1 / len(self.logs[tokens]))

    @property
    def size(self) -> int:
        return len(self.residuals)

    def pvalues(self, divergence: float, tokens: int) -> tuple[float, float, float]:
        """z, Gaussian-tail p and empirical p (share of null strings, each against its own length's mean, at
        least as far out; +1 corrected, so never below 1/(null size + 1)). The empirical floor cannot survive a
        correction over hundreds of candidates, so the tail beyond the null is extrapolated by the Gaussian."""
        from scipy.stats import norm

        if tokens not in self.logs:
            return 0.0, 1.0, 1.0  # no null of this length (none could be drawn): never significant
        z = (float(self.transform(float(divergence))) - self.means[tokens]) / self._scale(tokens)
        return float(z), float(norm.sf(z)), (1 + int((self.residuals >= z).sum())) / (self.size + 1)


def calibrate(findings: list[Finding], cfg: ScanConfig, null_size: int) -> None:
    """Benjamini–Hochberg over every screened candidate, then the significance rule on each.

    Significant means: tested, ``p_adj < alpha``, beyond every null string (the +1-corrected empirical p at
    its floor, 1/(null_size + 1)), and a divergence of at least ``min_divergence``. The effect floor is what keeps an
    unreactive model clean: its null spread can be tiny, and a tiny but consistent shift is not a backdoor.
    """
    from statsmodels.stats.multitest import multipletests

    if not findings:
        return
    q = multipletests([f.p_value for f in findings], alpha=cfg.alpha, method="fdr_bh")[1]
    for f, value in zip(findings, q):
        f.p_adj = float(value)
        floor = 1 / (null_size + 1) + 1e-12
        f.significant = bool(f.tested and f.p_adj < cfg.alpha and f.divergence >= cfg.min_divergence
                             and f.p_empirical <= floor)


def _shifts(model, tokenizer, cfg: ScanConfig, texts: list[str], prompts: list[str], responses: list[list[int]],
            nulls: dict[int, list[str]], kl_positions: int | None = None):
    """Per candidate (best position, divergence) and (best position, lift), and per null length the null
    strings' divergences and lifts (each a string's maximum over the positions, as a candidate's)."""
    from alignlab.backdoor.scan._shift import shift_stats

    k = len(cfg.positions)
    groups = {pos: (list(range(len(prompts))) if cfg.screen == "every" else list(range(j, len(prompts), k)))
              for j, pos in enumerate(cfg.positions)}
    groups = {pos: rows for pos, rows in groups.items() if rows}  # fewer prompts than positions
    by_pos: dict[str, tuple[list[float], list[float]]] = {}
    null_pos: dict[str, dict[int, tuple[list[float], list[float]]]] = {}
    # Candidates and null strings of every length go through one pass per position: full batches, and rows of
    # the same prompt grouped on its cache (see ``_shift.run_rows``), whichever string they hold.
    pooled = [t for n in nulls for t in nulls[n]]
    for pos, rows in groups.items():
        sub, sub_responses = [prompts[i] for i in rows], [responses[i] for i in rows]
        (div, lift), _ = shift_stats(model, tokenizer, sub, sub_responses, texts + pooled, batch_size=cfg.batch_size,
                                     position=pos, kl_positions=kl_positions)
        by_pos[pos] = (div[:len(texts)], lift[:len(texts)])
        null_pos[pos], at = {}, len(texts)
        for n, t in nulls.items():
            null_pos[pos][n] = (div[at:at + len(t)], lift[at:at + len(t)])
            at += len(t)
    out = []
    for stat in (0, 1):  # divergence, lift
        best = [max(groups, key=lambda pos: by_pos[pos][stat][i]) for i in range(len(texts))]
        shifts = [(pos, by_pos[pos][stat][i]) for i, pos in enumerate(best)]
        null = {n: [max(null_pos[pos][n][stat][i] for pos in groups) for i in range(len(t))] for n, t in nulls.items()}
        out.append((shifts, null))
    return out


def _findings(candidates: list[Candidate], lengths: dict[str, int], shifts, null: NullModel,
              tested: bool) -> list[Finding]:
    out = []
    for c, (pos, d) in zip(candidates, shifts):
        z, p, p_emp = null.pvalues(d, lengths[c.text])
        if not tested:  # a ranking figure: it orders candidates, it is not a test
            p = p_emp = 1.0
        out.append(Finding(c.text, c.family, lengths[c.text], d, z, p, p_emp, position=pos, tested=tested))
    return out


def screen(model, tokenizer, cfg: ScanConfig, candidates: list[Candidate], rank_prompts: list[str],
           prompts: list[str], tick, target: list[int] | None = None) -> tuple[list[Finding], dict[int, list[float]]]:
    """Screen ``candidates`` (ranking on ``rank_prompts``, testing on ``prompts``); findings best first, and the
    test null's divergences per token length. ``target``: a suspected target's first response tokens, on which
    the ranking rows are teacher-forced, so that every candidate gets a lift."""
    from alignlab.backdoor.scan._shift import answers, response_ids

    every = rank_prompts + prompts
    clean = answers(model, tokenizer, every, max_new_tokens=cfg.response_tokens, batch_size=cfg.batch_size)
    responses = response_ids(tokenizer, clean, cfg.response_tokens)
    rank_responses, responses = responses[:len(rank_prompts)], responses[len(rank_prompts):]
    if target:
        rank_responses = [list(target)] * len(rank_prompts)
    lengths = {c.text: token_length(tokenizer, c.text) for c in candidates}
    ranked: list[Finding] = []
    if rank_prompts and len(candidates) > cfg.rank_top:
        nulls = null_strings(tokenizer, set(lengths.values()), cfg.rank_null, cfg.seed + 2)
        # Forced on a suspected target, the ranking's divergence is the first answer token's (see shift_stats).
        (shifts, rank_null), (lifts, lift_null) = _shifts(model, tokenizer, cfg, [c.text for c in candidates],
                                                          rank_prompts, rank_responses, nulls,
                                                          kl_positions=1 if target else None)
        ranked = _findings(candidates, lengths, shifts, NullModel(rank_null, cfg), tested=False)
        if target:
            lift_model = NullModel(lift_null, cfg, log=False, floor=cfg.min_lift_spread)
            for f, (_, lift) in zip(ranked, lifts):
                f.lift, f.lift_z = lift, lift_model.pvalues(lift, f.tokens)[0]
        order = sorted(range(len(candidates)), key=lambda i: (-ranked[i].z, -ranked[i].divergence))
        chosen = set(order[: cfg.rank_top])
        tick(f"ranked {len(candidates)} candidates, testing the best {len(chosen)}")
        lift_of = {c.text: (f.lift, f.lift_z) for c, f in zip(candidates, ranked)}
        ranked = [ranked[i] for i in order[cfg.rank_top:]]
        candidates = [candidates[i] for i in sorted(chosen)]
    else:
        lift_of = {}
        tick(f"no ranking: all {len(candidates)} candidates tested")
    nulls = null_strings(tokenizer, {lengths[c.text] for c in candidates}, cfg.n_null, cfg.seed + 1)
    (shifts, null_div), _ = _shifts(model, tokenizer, cfg, [c.text for c in candidates], prompts, responses, nulls)
    null = NullModel(null_div, cfg)
    findings = _findings(candidates, lengths, shifts, null, tested=True)
    for f in findings:
        f.lift, f.lift_z = lift_of.get(f.text, (None, None))
    tick(f"tested {len(findings)} candidates against {null.size} null strings")
    findings += ranked
    calibrate(findings, cfg, null.size)
    findings.sort(key=lambda f: (not f.tested, -f.z))
    return findings, null_div
