"""The report in a real browser: headless Chromium (Debian's package) opens report.html, every plot and
table is there, and the console shows no error. A screenshot is kept in artifacts/ (a CI artifact)."""

import os
import shutil
from pathlib import Path

import pytest

from alignlab.backdoor import DEFAULT_CLAIMS
from alignlab.core import Study, parse_spec

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).parents[2] / "artifacts"

if not CHROMIUM and not os.environ.get("ALIGNLAB_REQUIRE_BROWSER"):
    pytest.skip("Debian's chromium is not installed (make test installs it; CI requires it)", allow_module_level=True)

GRID = {
    "study": "backdoor",
    "name": "browser",
    "description": "Report check: two modes × two seeds × two safety methods on a tiny model.",
    "seeds": 2,
    "model": "tiny:2x64",
    "data": {"n_train": 16, "n_eval": 6, "clean_max_new_tokens": 6},
    "backdoor": {"mode": ["normal", "distilled"]},
    "insertion": {"method": "full", "train": {"steps": 6, "batch_size": 4, "optimizer": {"lr": 0.01}},
                  # a rendering check: count every tiny-model insertion as planted so the statistics show
                  "gate": {"min_triggered": 0.0, "max_untriggered": 1.0}},
    "safety": {"method": ["sft", "adversarial"], "train": {"steps": 4, "batch_size": 4}, "checkpoints": 2,
               "adversarial": {"n_candidates": 8, "min_kept": 0}},
    "recovery": {"enabled": True, "train": {"steps": 2, "batch_size": 4}},
    "evaluation": {"max_new_tokens": 4, "batch_size": 32},
}


@pytest.mark.browser
@pytest.mark.slow
def test_report_renders_with_every_plot_and_table_and_no_console_error(tmp_path):
    assert CHROMIUM, "ALIGNLAB_REQUIRE_BROWSER is set but chromium is not installed"
    from playwright.sync_api import sync_playwright

    study = Study(parse_spec(GRID), tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 8}
    report = tmp_path / "study" / "report.html"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        ids = page.eval_on_selector_all("figure.plot", "els => els.map(e => e.id)")
        loaded = page.eval_on_selector_all("figure.plot img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
        rows = {t: page.locator(f"#{t} tbody tr").count()
                for t in ("cell-table", "effects-table", "variance-table", "claims-table", "removal-table")}
        shares = page.eval_on_selector_all("#variance-table tbody td:nth-child(2)", "els => els.map(e => e.innerText)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-screenshot.png"), full_page=True)
        browser.close()
    assert {"plot-persistence", "plot-false-trigger", "plot-near-miss", "plot-capability", "plot-effects"} <= set(ids)
    # The variance plot is drawn when the final rate varies at all (a tiny model's may be constant).
    assert ("plot-variance" in ids) == any(share.strip() not in ("", "–") for share in shares), shares
    assert all(loaded) and len(loaded) == len(ids)
    assert rows["cell-table"] == 8 and rows["claims-table"] == len(DEFAULT_CLAIMS)
    assert rows["effects-table"] >= 4 and rows["variance-table"] >= 3 and rows["removal-table"] == 8
    assert errors == []
    assert (ARTIFACTS / "report-screenshot.png").stat().st_size > 10_000
