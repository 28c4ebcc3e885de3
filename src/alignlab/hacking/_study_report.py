"""Reports shared by the hacking study kinds: one table row per cell from the store, then report.html and
summary.md in the study folder (rewritten from the store alone, so ``alignlab report DIR`` works mid-run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignlab.core._report import HtmlReport, markdown_table
from alignlab.core._study import Study

__all__ = ["cell_rows", "write_report"]


def _label(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def cell_rows(study: Study, stage: str) -> list[dict[str, Any]]:
    """One dict per in-spec cell: its factors, status, outcome or error, and ``stage``'s metrics by name
    (the value, plus ``NAME_lo``/``NAME_hi`` where an interval was logged)."""
    store = study.store()
    try:
        cells = store.cells()
        metrics = store.metrics_frame()
    finally:
        store.close()
    rows = []
    for cell in cells:
        row: dict[str, Any] = {k: _label(v) for k, v in cell["factors"].items()}
        row["status"] = cell["status"]
        if cell["error"]:
            row["note"] = cell["error"].strip().splitlines()[-1][:200]
        own = metrics[(metrics["cell_id"] == cell["cell_id"]) & (metrics["stage"] == stage)] if len(metrics) else metrics
        for m in own.itertuples():
            row[m.name] = m.value
            if m.lo is not None and m.lo == m.lo:  # NaN-safe: intervals are optional
                row[f"{m.name}_lo"], row[f"{m.name}_hi"] = m.lo, m.hi
        rows.append(row)
    return rows


def write_report(study: Study, title: str, frame: Any, notes: list[str], figure: tuple[Any, str] | None = None) -> list[Path]:
    """Write ``report.html`` (notes, optional figure, the cell table) and ``summary.md``; returns their paths."""
    spec = study.spec
    report = HtmlReport(f"{title} — {spec.name}", subtitle=spec.description or None)
    for note in notes:
        report.paragraph(note, css_class="note")
    if figure is not None:
        report.figure(figure[0], caption=figure[1], id="plot")
    report.heading("Cells", id="cells")
    report.table(frame, id="cells-table")
    html_path = report.write(study.directory / "report.html")
    summary = [f"# {title} — {spec.name}", "", *notes, "", markdown_table(frame) if len(frame) else "(no cells)", ""]
    summary_path = study.directory / "summary.md"
    summary_path.write_text("\n".join(summary), encoding="utf-8")
    return [html_path, summary_path]
