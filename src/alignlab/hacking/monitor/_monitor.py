"""A framework-agnostic monitor that flags reward-hacking onset in a training run, step by step.

Feed it one record per step (proxy reward; gold reward, KL to the reference policy, output length and
detector hit-rate when available). It raises an :class:`Alarm` when

- ``divergence``: over the last ``window`` steps the proxy rises significantly while gold is flat or
  falling (gold's slope is below ``gold_ratio`` × the proxy's, and gold sits below its best so far),
  for ``patience`` consecutive steps;
- ``change-point``: PELT (ruptures) finds a shift up in the proxy−gold gap, or in the detector hit-rate,
  of at least ``shift_sigmas`` noise standard deviations;
- ``hit-rate``: the detectors flag more than ``hit_rate_threshold`` of a step's episodes (2% by
  default, as in Anthropic's monitoring of production RL).

Alarms use only the records seen so far, so the onset step is what a live monitor would have reported.
:meth:`Monitor.summary` adds the offline view: the gold peak, and fits of Gao et al.'s forms
R(d) = d(α − βd) and R(d) = d(α − β ln d) with d = √KL.

Example::

    monitor = Monitor()
    for step in range(100):
        alarms = monitor.update(step, proxy=0.01 * step, gold=0.5)
    monitor.onset
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Alarm", "Monitor", "MonitorConfig", "StepRecord", "gao_fits"]


class MonitorConfig(BaseModel):
    """Thresholds of the hacking monitor."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(12, ge=4, description="Steps in the sliding window for slopes.")
    patience: int = Field(3, ge=1, description="Consecutive diverging steps before a divergence alarm.")
    proxy_p: float = Field(0.01, gt=0, lt=1, description="Significance of the proxy's rise (one-sided p).")
    gold_ratio: float = Field(0.25, ge=0, description="Gold counts as flat if its slope < gold_ratio × proxy slope.")
    gold_drop: float = Field(0.02, ge=0, description="…and it sits at least this far below its best so far.")
    hit_rate_threshold: float = Field(0.02, ge=0, le=1, description="Alarm when detectors flag more than this share.")
    hit_rate_window: int = Field(5, ge=1, description="Steps the hit-rate is averaged over (1: per step).")
    shift_sigmas: float = Field(3.0, gt=0, description="Smallest change-point shift, in noise standard deviations.")
    change_every: int = Field(5, ge=1, description="Run change-point detection every this many steps.")
    min_shift: float = Field(0.1, ge=0, description="Smallest proxy−gold gap shift that counts, in reward units.")


@dataclass(frozen=True)
class StepRecord:
    """One training step's measurements (None when not measured)."""

    step: int
    proxy: float
    gold: float | None = None
    kl: float | None = None
    length: float | None = None
    hit_rate: float | None = None


@dataclass(frozen=True)
class Alarm:
    """A flag raised at ``step`` (``since``: where the evidence starts)."""

    step: int
    kind: str
    message: str
    since: int | None = None


def _slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, one-sided p of slope > 0) by least squares."""
    from scipy import stats

    if len(set(ys)) < 2:
        return 0.0, 1.0
    fit = stats.linregress(xs, ys)
    if not math.isfinite(fit.stderr) or fit.stderr == 0:
        return float(fit.slope), 0.0 if fit.slope > 0 else 1.0
    t = fit.slope / fit.stderr
    return float(fit.slope), float(stats.t.sf(t, len(xs) - 2))


def _noise(values: list[float]) -> float:
    """Robust noise scale: median absolute successive difference / (0.6745 √2)."""
    import numpy as np

    diffs = np.abs(np.diff(values))
    return float(np.median(diffs) / (0.6745 * math.sqrt(2))) if len(diffs) else 0.0


class Monitor:
    """Online reward-hacking monitor; :meth:`update` once per step (see the module docstring)."""

    def __init__(self, config: MonitorConfig | None = None, **overrides):
        self.config = MonitorConfig.model_validate({**(config or MonitorConfig()).model_dump(), **overrides})
        self.records: list[StepRecord] = []
        self.alarms: list[Alarm] = []
        self._diverging = 0
        self._raised: set[str] = set()

    @property
    def onset(self) -> int | None:
        """The step of the first alarm (None: no alarm)."""
        return self.alarms[0].step if self.alarms else None

    def update(self, step: int, proxy: float, gold: float | None = None, kl: float | None = None,
               length: float | None = None, hit_rate: float | None = None) -> list[Alarm]:
        """Record a step; returns the alarms it raised."""
        record = StepRecord(int(step), float(proxy), *(None if v is None else float(v) for v in (gold, kl, length, hit_rate)))
        self.records.append(record)
        new = self._hit_rate(record) + self._divergence() + self._change_points()
        self.alarms += new
        return new

    def _raise(self, kind: str, step: int, message: str, since: int | None = None) -> list[Alarm]:
        # One alarm per kind: the monitor reports onset, not every step after it.
        if kind in self._raised:
            return []
        self._raised.add(kind)
        return [Alarm(step, kind, message, since)]

    def _hit_rate(self, record: StepRecord) -> list[Alarm]:
        # Averaged over the window: one step's batch is too small for a 2% threshold to be stable.
        recent = [r.hit_rate for r in self.records[-self.config.hit_rate_window:] if r.hit_rate is not None]
        if record.hit_rate is None or not recent:
            return []
        rate = sum(recent) / len(recent)
        if rate > self.config.hit_rate_threshold:
            return self._raise("hit-rate", record.step, f"detectors flagged {rate:.1%} of the episodes of the last "
                               f"{len(recent)} step(s) (threshold {self.config.hit_rate_threshold:.0%})")
        return []

    def _divergence(self) -> list[Alarm]:
        w = self.config.window
        recent = [r for r in self.records[-w:] if r.gold is not None]
        if len(recent) < w:
            return []
        xs = [r.step for r in recent]
        proxy_slope, proxy_p = _slope(xs, [r.proxy for r in recent])
        gold_slope, _ = _slope(xs, [r.gold for r in recent])
        best_gold = max(r.gold for r in self.records if r.gold is not None)
        diverging = (proxy_slope > 0 and proxy_p < self.config.proxy_p
                     and gold_slope < self.config.gold_ratio * proxy_slope
                     and recent[-1].gold <= best_gold - self.config.gold_drop)
        self._diverging = self._diverging + 1 if diverging else 0
        if self._diverging >= self.config.patience:
            return self._raise("divergence", recent[-1].step,
                               f"proxy rising ({proxy_slope:+.4f}/step, p={proxy_p:.1g}) while gold is flat or "
                               f"falling ({gold_slope:+.4f}/step, {best_gold - recent[-1].gold:.3f} below its best)",
                               since=recent[0].step)
        return []

    def _change_points(self) -> list[Alarm]:
        c, n = self.config, len(self.records)
        if n < 2 * c.window or n % c.change_every:
            return []
        alarms = []
        gaps = [r.proxy - r.gold for r in self.records if r.gold is not None]
        if len(gaps) == n:
            alarms += self._shift("change-point", gaps, "the proxy−gold gap", c.min_shift)
        hits = [r.hit_rate for r in self.records if r.hit_rate is not None]
        if len(hits) == n:
            alarms += self._shift("change-point", hits, "the detector hit-rate", c.hit_rate_threshold)
        return alarms

    def _shift(self, kind: str, series: list[float], what: str, floor: float) -> list[Alarm]:
        import numpy as np
        import ruptures

        noise = max(_noise(series), 0.01)  # a floor: near-constant series (hit rates of 0) have no noise
        signal = np.asarray(series, dtype=float)
        # PELT with a BIC-like penalty on the noise-scaled series: a change must pay for itself.
        breaks = ruptures.Pelt(model="l2", min_size=self.config.window // 2).fit(signal / noise).predict(
            pen=2 * math.log(len(signal)) * 4)
        start = 0
        for end in breaks[:-1]:
            before, after = signal[start:end].mean(), signal[end:end + self.config.window].mean()
            big = after - before >= max(self.config.shift_sigmas * noise, floor)
            if big and end <= len(signal) - self.config.window // 2:
                step = self.records[end].step
                return self._raise(kind, self.records[-1].step,
                                   f"{what} shifts up by {after - before:.3f} at step {step} "
                                   f"({(after - before) / noise:.1f} noise SDs)", since=step)
            start = end
        return []

    def frame(self):
        """The records as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.records])

    def summary(self) -> dict:
        """Onset, alarms, gold peak, and the Gao et al. fits (when gold and KL were recorded)."""
        golds = [(r.step, r.gold) for r in self.records if r.gold is not None]
        peak = None
        if golds:
            import pandas as pd

            smooth = pd.Series([g for _, g in golds]).rolling(self.config.window, min_periods=1, center=True).mean()
            index = int(smooth.idxmax())
            peak = {"step": golds[index][0], "gold": float(smooth.iloc[index])}
        return {"steps": len(self.records), "onset": self.onset, "alarms": [asdict(a) for a in self.alarms],
                "gold_peak": peak, "gao_fits": gao_fits(self.records)}


def gao_fits(records: list[StepRecord]) -> dict:
    """Fits of gold − gold₀ against d = √KL: best-of-n d(α − βd) and RL d(α − β ln d), with peaks."""
    import numpy as np
    from scipy.optimize import curve_fit

    rows = [(math.sqrt(max(r.kl, 0.0)), r.gold) for r in records if r.gold is not None and r.kl is not None]
    if len(rows) < 5:
        return {}
    d = np.array([x for x, _ in rows])
    gold = np.array([g for _, g in rows])
    gold = gold - gold[0]
    keep = d > 1e-9
    forms = {
        "bon": (lambda x, a, b: x * (a - b * x), lambda a, b: a / (2 * b) if b > 0 else math.inf),
        "rl": (lambda x, a, b: x * (a - b * np.log(x)), lambda a, b: math.exp(a / b - 1) if b > 0 else math.inf),
    }
    fits = {}
    for name, (form, peak) in forms.items():
        try:
            (a, b), _ = curve_fit(form, d[keep], gold[keep], p0=(1.0, 0.1), maxfev=20000)
        except (RuntimeError, ValueError, TypeError):
            continue
        residual = gold[keep] - form(d[keep], a, b)
        total = ((gold[keep] - gold[keep].mean()) ** 2).sum()
        fits[name] = {"alpha": float(a), "beta": float(b), "r2": float(1 - (residual ** 2).sum() / total) if total else None,
                      "d_peak": float(peak(a, b)), "kl_peak": float(peak(a, b) ** 2)}
    return fits
