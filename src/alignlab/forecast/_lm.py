"""Eliciting forecasts from a language model, in the plain and the chained protocol, with a full record.

The model (any spec of :func:`alignlab.core.load_model`) sees the recent history as ``date: value``
lines and is asked for the value on a target date; in the chained protocol it is also asked what it
will answer one step later. Answers are parsed robustly (:func:`parse_number`); an unparseable answer
is recorded as missing and, for ``predict``, replaced by the last value (``fallback='naive'``). Every
prompt, answer, parsed number and the reward each answer earns is kept in ``records_`` and can be
written as JSONL.

Example::

    lm = LMForecaster(model="bundled:smollm2-135m").fit(df)
    lm.predict(4)
    records = run_lm_chain(lm, df, h=4, origins=2)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from alignlab.core import AlignlabError
from alignlab.core._jsonl import append_jsonl, write_jsonl
from alignlab.forecast._data import validate_series
from alignlab.forecast._frames import extend_dates, level_quantiles, levels_of

__all__ = ["LMForecaster", "parse_chained_answer", "parse_number", "run_lm_chain"]

_UNKNOWN = re.compile(r"\b(unknown|n/?a|not sure|cannot|can't|don't know|do not know|no idea|impossible)\b", re.IGNORECASE)
_NUMBER = r"[-+−]?\s?[$€£¥]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?[kKmM]?(?![\w])\s?%?"
_RANGE = re.compile(rf"({_NUMBER})\s*(?:-|–|—|to|and)\s*({_NUMBER})")


def _to_float(token: str, reference: float | None) -> float | None:
    token = token.strip().replace("−", "-").replace(" ", "")
    percent = token.endswith("%")
    token = token.rstrip("%")
    token = re.sub(r"[$€£¥,]", "", token)
    scale = 1.0
    if token[-1:] in "kK":
        scale, token = 1e3, token[:-1]
    elif token[-1:] in "mM":
        scale, token = 1e6, token[:-1]
    try:
        value = float(token) * scale
    except ValueError:
        return None
    if percent:
        # A percentage is read as a change from the last value; without one it has no level.
        return None if reference is None else reference * (1 + value / 100)
    return value


def parse_number(text: str, *, reference: float | None = None,
                 ranges: Literal["midpoint", "reject"] = "midpoint") -> float | None:
    """The first number in a model's answer, or None.

    Handles thousands separators (``1,234.5``), currency signs, ``k``/``m`` suffixes, percentages (a
    change relative to ``reference``), ranges (``1200-1300`` or ``1200 to 1300``: the midpoint, or None
    with ``ranges='reject'``), and "unknown"/"n/a"/"I don't know" (None).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    # Dates echoed from the prompt ("2004-07-09: 2100") are not the answer.
    head = re.sub(r"\b\d{4}-\d{2}-\d{2}\b:?", " ", text).strip()
    match_range = _RANGE.search(head)
    match_num = re.search(_NUMBER, head)
    if match_num is None:
        return None
    if _UNKNOWN.search(head[: match_num.start()]):
        return None
    if match_range is not None and match_range.start() <= match_num.start():
        lo, hi = _to_float(match_range.group(1), reference), _to_float(match_range.group(2), reference)
        if lo is None or hi is None:
            return None
        if ranges == "reject":
            return None
        return (lo + hi) / 2
    value = _to_float(match_num.group(0), reference)
    return value if value is None or np.isfinite(value) else None


def parse_chained_answer(text: str, *, reference: float | None = None) -> tuple[float | None, float | None]:
    """``(forecast, next_forecast)`` from an answer like ``Forecast: 2450; Next week: 2460``.

    Labelled numbers are preferred; otherwise the first and second numbers in the text.
    """
    if not isinstance(text, str):
        return None, None
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b:?", " ", text)  # echoed dates are not answers
    first = re.search(r"forecast\s*[:=]\s*(.+?)(?:;|\n|$)", text, re.IGNORECASE)
    second = re.search(r"next(?:\s*week)?(?:'s)?(?:\s*forecast)?\s*[:=]\s*(.+?)(?:;|\n|$)", text, re.IGNORECASE)
    if first and second:
        return parse_number(first.group(1), reference=reference), parse_number(second.group(1), reference=reference)
    numbers = re.findall(_NUMBER, text)
    values = [_to_float(n, reference) for n in numbers]
    values = [v for v in values if v is not None]
    return (values[0] if values else None), (values[1] if len(values) > 1 else None)


def _fmt_date(ds: Any) -> str:
    return pd.Timestamp(ds).strftime("%Y-%m-%d") if not isinstance(ds, (int, np.integer)) else str(ds)


class LMForecaster:
    """A language model as a forecaster: prompted with the history, asked for a number.

    Example::

        lm = LMForecaster(model="tiny:2x64", history=8).fit(df)
        lm.predict(2)                      # unique_id, ds, lm
        lm.records_[0]["answer"]
    """

    def __init__(
        self,
        model: Any = "bundled:smollm2-135m",
        *,
        history: int = 12,
        max_new_tokens: int = 24,
        fallback: Literal["naive", "missing"] = "naive",
        ranges: Literal["midpoint", "reject"] = "midpoint",
        series_names: dict[str, str] | None = None,
        generator: Callable[[list[str]], list[str]] | None = None,
        alias: str = "lm",
        log_path: str | None = None,
    ):
        self.model = model
        self.history = history
        self.max_new_tokens = max_new_tokens
        self.fallback = fallback
        self.ranges = ranges
        self.series_names = series_names
        self.generator = generator
        self.alias = alias
        self.log_path = log_path

    @property
    def name(self) -> str:
        return self.alias

    def fit(self, df: pd.DataFrame) -> LMForecaster:
        """Load the model once (no training: the LM forecasts from the prompt alone) and keep ``df``."""
        self.df_ = validate_series(df)
        if not hasattr(self, "records_"):
            self.records_: list[dict[str, Any]] = []
        if self.generator is None and not hasattr(self, "model_"):
            if isinstance(self.model, tuple):
                self.model_, self.tokenizer_ = self.model
            else:
                from alignlab.core import load_model

                self.model_, self.tokenizer_ = load_model(self.model)
        return self

    def _ask(self, texts: list[str]) -> list[str]:
        if self.generator is not None:
            return list(self.generator(texts))
        from alignlab.core import format_prompt, generate

        system = "You are a careful forecaster. Answer with numbers only, in the requested format."
        prompts = [format_prompt(self.tokenizer_, t, system=system) for t in texts]
        out = generate(self.model_, self.tokenizer_, prompts, max_new_tokens=self.max_new_tokens,
                       stop=lambda s: "\n" in s.strip())
        return [o[0] for o in out]

    def _context(self, uid: str, ds: np.ndarray, y: np.ndarray) -> str:
        name = (self.series_names or {}).get(uid, uid)
        lines = "\n".join(f"{_fmt_date(d)}: {v:.2f}" for d, v in zip(ds[-self.history:], y[-self.history:]))
        return f"Recent values of {name}:\n{lines}\n"

    def prompt(self, uid: str, ds: np.ndarray, y: np.ndarray, target: Any, steps: int, chained: bool = False) -> str:
        """The question for the value ``steps`` steps after the last date, on ``target``."""
        text = self._context(uid, ds, y) + f"What will the value be on {_fmt_date(target)} ({steps} steps after the last date)?"
        if chained:
            text += (" Also: one step from now you will see one more value and be asked the same question. "
                     "What will your answer be then? Reply exactly as: Forecast: <number>; Next: <number>")
        else:
            text += " Reply with one number."
        return text

    def _log(self, records: list[dict[str, Any]]) -> None:
        self.records_.extend(records)
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
            append_jsonl(self.log_path, records)

    def predict(self, h: int, df: pd.DataFrame | None = None, level: list[float] | None = None) -> pd.DataFrame:
        """Ask for each of the next ``h`` values; intervals (``level``) come from the recent volatility."""
        if not hasattr(self, "df_"):
            raise AlignlabError("This LMForecaster is not fitted yet; call fit(df) before predict.")
        from scipy import stats

        df = self.df_ if df is None else validate_series(df)
        texts, meta = [], []
        for uid, g in df.groupby("unique_id", sort=False):
            ds, y = g["ds"].to_numpy(), g["y"].to_numpy(dtype=float)
            future = extend_dates(ds, h)[len(ds):]
            for r in range(1, h + 1):
                texts.append(self.prompt(uid, ds, y, future[r - 1], r))
                meta.append((uid, future[r - 1], r, y[-1], y))
        answers = self._ask(texts)
        rows, records = [], []
        for (uid, target, r, last, y), text, answer in zip(meta, texts, answers):
            value = parse_number(answer, reference=last, ranges=self.ranges)
            used = value if value is not None else (last if self.fallback == "naive" else np.nan)
            records.append({"protocol": "plain", "unique_id": uid, "target": target, "steps": r, "prompt": text,
                            "answer": answer, "parsed": value, "used": used, "fallback": value is None})
            row = {"unique_id": uid, "ds": target, self.name: used}
            returns = np.diff(np.log(y[-53:])) if (y > 0).all() and len(y) > 2 else np.array([0.0])
            sd = float(np.std(returns)) if len(returns) > 1 else 0.0
            for suffix, q in level_quantiles(levels_of(level)):
                row[f"{self.name}-{suffix}"] = used * np.exp(stats.norm.ppf(q) * sd * np.sqrt(r))
            rows.append(row)
        self._log(records)
        return pd.DataFrame(rows)


def run_lm_chain(
    forecaster: LMForecaster,
    df: pd.DataFrame,
    *,
    h: int,
    origins: int | Sequence[int] = 3,
    log_path: str | None = None,
) -> pd.DataFrame:
    """The chained protocol: from each origin, at every step ask for the target and for the next answer.

    Returns one row per (series, origin, step) with the prompt, answer, parsed ``forecast`` and
    ``next_forecast``, and the rewards each answer earns (losses scaled by the value at the origin):
    ``reward_chain`` = -(forecast - next step's forecast)^2 (the last step: against the outcome),
    ``reward_self`` = -(predicted next forecast - actual next forecast)^2, and ``reward_outcome`` =
    -(forecast - outcome)^2 (what a direct forecaster would be scored on).
    """
    if h < 1:
        raise AlignlabError(f"h must be at least 1 (got {h}).")
    if isinstance(origins, int) and origins < 1:
        raise AlignlabError(f"origins must be at least 1 (got {origins}).")
    if forecaster.history < 1:
        raise AlignlabError(f"history must be at least 1 step (got {forecaster.history}).")
    df = validate_series(df, h=h)
    if not hasattr(forecaster, "df_"):
        forecaster.fit(df)
    rows, texts = [], []
    for uid, g in df.groupby("unique_id", sort=False):
        ds, y = g["ds"].to_numpy(), g["y"].to_numpy(dtype=float)
        n = len(y)
        if isinstance(origins, int):
            if n - h - 1 < forecaster.history:
                raise AlignlabError(f"Series '{uid}' is too short for h={h} with {forecaster.history} steps of history.")
            picks = np.linspace(forecaster.history, n - h - 1, origins).astype(int)
        else:
            picks = np.asarray(origins, dtype=int)
        for o in picks:
            for k in range(h):
                t = o + k
                texts.append(forecaster.prompt(uid, ds[: t + 1], y[: t + 1], ds[o + h], h - k, chained=True))
                rows.append({"unique_id": uid, "origin": ds[o], "step": k, "target": ds[o + h], "y_origin": y[o],
                             "y_now": y[t], "y_target": y[o + h]})
    answers = forecaster._ask(texts)
    frame = pd.DataFrame(rows)
    frame["prompt"] = texts
    frame["answer"] = answers
    parsed = [parse_chained_answer(a, reference=r) for a, r in zip(answers, frame["y_now"])]
    frame["forecast"] = [p[0] for p in parsed]
    frame["next_forecast"] = [p[1] for p in parsed]
    frame = frame.astype({"forecast": float, "next_forecast": float})
    frame = frame.sort_values(["unique_id", "origin", "step"]).reset_index(drop=True)
    nxt = frame.groupby(["unique_id", "origin"])["forecast"].shift(-1)
    is_last = frame["step"] == h - 1
    anchor = np.where(is_last, frame["y_target"], nxt)
    scale = frame["y_origin"]
    frame["reward_chain"] = -(((frame["forecast"] - anchor) / scale) ** 2)
    frame["reward_self"] = np.where(is_last, np.nan, -(((frame["next_forecast"] - nxt) / scale) ** 2))
    frame["reward_outcome"] = -(((frame["forecast"] - frame["y_target"]) / scale) ** 2)
    frame["parsed"] = frame["forecast"].notna()
    records = frame.assign(protocol="chained").to_dict(orient="records")
    forecaster._log(records)
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(log_path, records)
    return frame
