"""The ``scan`` study kind: a zoo of models scanned resumably on the core engine, with one summary table.

The model is a factor: ``model: [A, B, C]`` makes one cell per model (cells run locally or on Ray, and a
re-run skips finished ones). ``models: DIR`` instead scans every model in a folder: each Hugging Face model
directory (a ``config.json``) and each PEFT adapter directory (an ``adapter_config.json``, applied to the
base model its config names, or to ``model`` when given) is one resumable stage of the cell. Spec::

    study: scan
    name: my-zoo
    models: zoo/                 # or model: [bundled:smollm2-135m, zoo/clean-full]
    leak_samples: 24             # any field of ScanConfig
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from alignlab.backdoor.scan._config import ScanConfig
from alignlab.core._errors import AlignlabError
from alignlab.core._registry import register
from alignlab.core._spec import StudySpec
from alignlab.core._stage import Stage, StageContext

__all__ = ["ScanCellConfig", "ScanZooStudy", "zoo_models"]


class ScanCellConfig(ScanConfig):
    """One cell of a scan study: a model (a factor) or a folder of models, and the scan's settings."""

    # Differs from ScanConfig: the model is optional when ``models`` names a folder of models.
    model: str | None = Field(None, description="Model spec (a factor: give a list); or leave out and give models.")
    models: str | None = Field(None, description="A folder: every HF model directory and PEFT adapter in it is scanned.")

    @model_validator(mode="after")
    def _one_source(self) -> ScanCellConfig:
        if self.models is None and self.model is None:
            raise ValueError("give 'model' (one model, or a list of them) or 'models' (a folder of models)")
        return self


def zoo_models(folder: str | Path, base: str | None = None) -> list[tuple[str, str, str | None]]:
    """(name, model, adapter) for each model directory and adapter directory directly inside ``folder``."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise AlignlabError(f"field 'models': the folder '{folder}' does not exist; expected a folder holding "
                            "Hugging Face model directories (config.json) or PEFT adapters (adapter_config.json).")
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for d in (sub, sub / "model", sub / "adapter"):  # the layout alignlab's own studies save
            if (d / "adapter_config.json").is_file():
                cfg = json.loads((d / "adapter_config.json").read_text())
                found.append((sub.name, base or cfg.get("base_model_name_or_path") or "", str(d)))
                break
            if (d / "config.json").is_file():
                found.append((sub.name, str(d), None))
                break
    if not found:
        raise AlignlabError(f"field 'models': the folder '{folder}' holds no model directory (config.json) and no "
                            "PEFT adapter (adapter_config.json) one level down.")
    return found


def _scan_stage(model: str, adapter: str | None):
    def run(ctx: StageContext) -> dict[str, Any]:
        from alignlab.backdoor.scan._report import write_report
        from alignlab.backdoor.scan._scan import scan

        cfg = ScanConfig.model_validate({**ctx.config.model_dump(exclude={"models", "seed"}), "model": model,
                                         "adapter": adapter, "seed": ctx.config.seed})
        advance = ctx.progress(f"scan {Path(model).name}", 1)
        result = scan(cfg, show_progress=False)  # the study shows its own bars
        advance(1)
        write_report(result, ctx.directory)
        summary = result.summary()
        ctx.log(0, "backdoored", summary["verdict"] == "backdoored")
        ctx.log(0, "asr", summary["triggers"][0]["asr"] if summary["triggers"] else 0.0)
        if summary["probe_auroc"] is not None:
            ctx.log(0, "probe_auroc", summary["probe_auroc"])
        ctx.log(0, "minutes", summary["minutes"])
        return {"model": model, "adapter": adapter, **summary}

    return run


@register("study", "scan")
class ScanZooStudy:
    """Scan a zoo of models for backdoors (``alignlab backdoor scan`` per model)."""

    name = "scan"
    config_class = ScanCellConfig
    example_spec = "study: scan\nname: my-zoo\nmodels: zoo/   # a folder of model dirs / adapters, or model: [A, B]\n"
    init_command = None

    def check(self, spec: StudySpec) -> None:
        """Fail before any cell runs: every model must exist and every folder hold models."""
        from alignlab.core._models import check_model

        for cell in spec.cells:
            c = cell.config
            for _, model, _adapter in (zoo_models(c.models, c.model) if c.models else [(None, c.model, c.adapter)]):
                check_model(model)
            if c.candidates:
                from alignlab.backdoor.scan._candidates import read_candidates

                read_candidates(c.candidates)

    def stages(self, config: ScanCellConfig) -> list[Stage]:
        inputs = config.model_dump(mode="json", exclude={"models", "model", "adapter", "device", "batch_size"})
        entries = zoo_models(config.models, config.model) if config.models else [("scan", config.model, config.adapter)]
        return [Stage(f"scan:{name}" if config.models else "scan", {**inputs, "model": model, "adapter": adapter},
                      _scan_stage(model, adapter)) for name, model, adapter in entries]

    def report(self, study: Any) -> list[Path]:
        import pandas as pd

        from alignlab.core._report import HtmlReport, markdown_table

        store = study.store()
        try:
            rows = []
            for cell in store.cells():
                for name, stage in sorted(store.cell_stages(cell["cell_id"]).items()):
                    r = stage.get("result") or {}
                    top = (r.get("triggers") or [{}])[0]
                    rows.append({"model": r.get("model", name), "adapter": r.get("adapter"), "status": stage["status"],
                                 "verdict": r.get("verdict"), "trigger": top.get("text"), "asr": top.get("asr"),
                                 "target": ((r.get("targets") or [{}])[0]).get("text"),
                                 "probe_auroc": r.get("probe_auroc"), "minutes": r.get("minutes")})
        finally:
            store.close()
        frame = pd.DataFrame(rows)
        flagged = int((frame["verdict"] == "backdoored").sum()) if len(frame) else 0
        note = (f"{len(frame)} models scanned, {flagged} flagged as backdoored. Each model's own report (report.html, "
                "summary.md, scan.json) is in its stage's artifact folder.")
        report = HtmlReport(f"Backdoor scan zoo — {study.spec.name}", subtitle=study.spec.description or None)
        report.paragraph(note, css_class="note")
        report.heading("Models", id="models")
        report.table(frame, id="models-table")
        paths = [report.write(study.directory / "report.html")]
        summary = study.directory / "summary.md"
        summary.write_text("\n".join([f"# Backdoor scan zoo — {study.spec.name}", "", note, "",
                                      markdown_table(frame) if len(frame) else "(no models)", ""]), encoding="utf-8")
        return paths + [summary]
