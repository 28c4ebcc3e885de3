"""Self-contained HTML reports (inline plots, no network) and Markdown summaries.

Every instrument writes its report through :class:`HtmlReport` so all reports look alike and open
offline: figures are matplotlib, embedded as PNG data URIs; tables are pandas frames. :class:`Report`
is the one report path for studies: the same calls build ``report.html`` and ``summary.md``, so the
page and the summary cannot disagree.

Example::

    report = HtmlReport("My study", subtitle="study demo")
    report.heading("Cells")
    report.table(frame, id="cells")
    report.write("report.html")
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

__all__ = ["HtmlReport", "Report", "markdown_table", "new_figure"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2330;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.subtitle{color:#5b6475;margin-top:0}
h2{border-bottom:1px solid #dde1e8;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0 1rem}
th,td{border:1px solid #dde1e8;padding:.25rem .5rem;text-align:right}
th{background:#f3f5f9}td:first-child,th:first-child{text-align:left}
figure{margin:1rem 0}figure img{max-width:100%}figcaption{color:#5b6475;font-size:.85rem}
.note{background:#f7f8fb;border-left:3px solid #8a94a8;padding:.4rem .8rem}
.bad{color:#b3261e;font-weight:600}.good{color:#1e7b34;font-weight:600}
"""


def new_figure(width: float = 7.0, height: float = 4.0):
    """A matplotlib (figure, axes) on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")


class HtmlReport:
    """Build an HTML page section by section, then :meth:`write` it."""

    def __init__(self, title: str, subtitle: str | None = None):
        self.title = title
        self.parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        if subtitle:
            self.parts.append(f'<p class="subtitle">{html.escape(subtitle)}</p>')

    def heading(self, text: str, level: int = 2, id: str | None = None) -> None:
        anchor = f' id="{html.escape(id)}"' if id else ""
        self.parts.append(f"<h{level}{anchor}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css_class: str | None = None, raw: bool = False) -> None:
        body = text if raw else html.escape(text)
        klass = f' class="{css_class}"' if css_class else ""
        self.parts.append(f"<p{klass}>{body}</p>")

    def figure(self, fig: Any, caption: str | None = None, id: str | None = None) -> None:
        """Embed a matplotlib figure as a PNG and close it."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode()
        anchor = f' id="{html.escape(id)}"' if id else ""
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        alt = html.escape(caption or "plot")
        self.parts.append(f'<figure{anchor} class="plot"><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>')

    def table(self, frame: Any, caption: str | None = None, id: str | None = None, float_format: str = "{:.3g}") -> None:
        """Embed a pandas DataFrame as an HTML table."""
        anchor = f' id="{html.escape(id)}"' if id else ""
        cap = f"<p><em>{html.escape(caption)}</em></p>" if caption else ""
        body = frame.to_html(index=False, border=0, float_format=float_format.format, na_rep="–", escape=True)
        self.parts.append(f"<div{anchor} class=\"table\">{cap}{body}</div>")

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def render(self) -> str:
        body = "\n".join(self.parts)
        return (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
            f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


def markdown_table(frame: Any, float_format: str = ".3g") -> str:
    """A GitHub-flavoured Markdown table of a DataFrame."""
    return frame.to_markdown(index=False, floatfmt=float_format)


class Report:
    """One report, two renderings: an HTML page (:class:`HtmlReport`) and a Markdown summary, from the same calls.

    Figures go to the page only (the summary is for reading in a terminal or a pull request); a table or
    paragraph can be kept out of the summary with ``summary=False`` when it is too wide or only explains a plot.

    Example::

        report = Report("My study", subtitle="4 cells")
        report.heading("Scores")
        report.table(scores, id="scores")
        report.bullets(["variant A improves on the baseline", "variant B does not"])
        report.write("studies/x")      # studies/x/report.html and studies/x/summary.md
    """

    def __init__(self, title: str, subtitle: str | None = None):
        self.html = HtmlReport(title, subtitle=subtitle)
        self.markdown: list[str] = [f"# {title}", ""] + ([subtitle, ""] if subtitle else [])

    def heading(self, text: str, level: int = 2, id: str | None = None) -> None:
        self.html.heading(text, level=level, id=id)
        self.markdown += [f"{'#' * level} {text}", ""]

    def paragraph(self, text: str, css_class: str | None = None, *, summary: bool = True) -> None:
        self.html.paragraph(text, css_class=css_class)
        if summary:
            self.markdown += [text, ""]

    def bullets(self, items: list[str], css_class: str | None = "note") -> None:
        """A list: one highlighted paragraph per item on the page, a bullet list in the summary."""
        for item in items:
            self.html.paragraph(item, css_class=css_class)
        if items:
            self.markdown += [f"- {item}" for item in items] + [""]

    def table(self, frame: Any, caption: str | None = None, id: str | None = None, float_format: str = "{:.3g}",
              *, summary: bool = True) -> None:
        self.html.table(frame, caption=caption, id=id, float_format=float_format)
        if summary:
            spec = float_format.removeprefix("{:").removesuffix("}") or ".3g"
            self.markdown += ([f"*{caption}*", ""] if caption else []) + [markdown_table(frame, spec), ""]

    def figure(self, fig: Any, caption: str | None = None, id: str | None = None) -> None:
        """A matplotlib figure on the page (closed afterwards); not in the summary."""
        self.html.figure(fig, caption=caption, id=id)

    def render_markdown(self) -> str:
        return "\n".join(self.markdown).rstrip() + "\n"

    def write(self, directory: str | Path, *, html_name: str = "report.html",
              markdown_name: str = "summary.md") -> list[Path]:
        """Write both renderings into ``directory``; returns their paths (page first)."""
        directory = Path(directory)
        page = self.html.write(directory / html_name)
        summary = directory / markdown_name
        summary.write_text(self.render_markdown(), encoding="utf-8")
        return [page, summary]
