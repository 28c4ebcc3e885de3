"""The ``scan`` study kind: a zoo of models scanned resumably on the core engine, with one summary table.

The model is a factor: ``model: [A, B, C]`` makes one cell per model (cells run locally or on Ray, and a
re-run skips finished ones). ``models: DIR`` scans every model in a folder: the kind's ``expand`` hook turns
it into a factor with one level per model folder, each a Hugging Face model directory (a ``config.json``)
or a PEFT adapter directory (an ``adapter_config.json``, applied to ``model`` when given, else to the base
model its config names), directly or in the ``model/`` or ``adapter/`` folder alignlab's own studies save.
So each model is its own cell: resumable on its own, spread over workers or Ray. Spec::

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

__all__ = ["ScanCellConfig", "ScanZooStudy", "expand_models", "zoo_entry", "zoo_models"]


class ScanCellConfig(ScanConfig):
    """One cell of a scan study: a model (a factor) or one model folder of a zoo, and the scan's settings."""

    # Differs from ScanConfig: the model is optional when ``models`` names model folders.
    model: str | None = Field(None, description="Model spec (a factor: give a list); with 'models': the base "
                              "model of the folder's adapters.")
    models: str | None = Field(None, description="A folder of models (HF model directories and PEFT adapters), "
                               "one cell per model; in a cell, that model's folder.")

    @model_validator(mode="after")
    def _one_source(self) -> ScanCellConfig:
        if self.models is None and self.model is None:
            raise ValueError("give 'model' (one model, or a list of them) or 'models' (a folder of models)")
        return self


_EXPECTED = ("expected a Hugging Face model directory (config.json), a PEFT adapter directory "
             "(adapter_config.json), or a folder holding such directories one level down")


def zoo_entry(folder: str | Path, base: str | None = None) -> tuple[str, str | None] | None:
    """(model, adapter) of one model folder (itself, or its ``model/`` or ``adapter/``); None if it holds none."""
    folder = Path(folder).expanduser()
    for d in (folder, folder / "model", folder / "adapter"):  # the layout alignlab's own studies save
        if (d / "adapter_config.json").is_file():
            cfg = json.loads((d / "adapter_config.json").read_text())
            return base or cfg.get("base_model_name_or_path") or "", str(d)
        if (d / "config.json").is_file():
            return str(d), None
    return None


def zoo_models(folder: str | Path, base: str | None = None) -> list[tuple[str, str, str | None]]:
    """(name, model, adapter) for each model folder directly inside ``folder``, sorted by name."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise AlignlabError(f"field 'models': '{folder}' does not exist; {_EXPECTED}.")
    if not root.is_dir():
        raise AlignlabError(f"field 'models': '{folder}' is a file, not a model; {_EXPECTED}.")
    found = [(sub.name, *entry) for sub in sorted(p for p in root.iterdir() if p.is_dir())
             if (entry := zoo_entry(sub, base)) is not None]
    if not found:
        what = "is empty" if not any(root.iterdir()) else "holds no model"
        raise AlignlabError(f"field 'models': the folder '{folder}' {what}; {_EXPECTED}.")
    return found


def expand_models(raw: dict[str, Any]) -> dict[str, Any]:
    """The cell fields with ``models`` (a folder of models, or a list of folders) as a list of model folders.

    A folder that is itself a model stays as it is, so expanding twice changes nothing.
    """
    value = raw.get("models")
    if value is None:
        return raw
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise AlignlabError(f"field 'models' is {value!r}; expected a folder of models (or a list of folders).")
    if isinstance(raw.get("model"), list):
        raise AlignlabError("field 'model': with 'models' it is the one base model of the folders' adapters, "
                            f"not a factor; got the list {raw['model']!r}.")
    levels: list[str] = []
    for item in items:
        if zoo_entry(item) is not None:
            levels.append(item)
        else:
            root = Path(item)
            levels += [str(root / name) for name, _, _ in zoo_models(item)]
    return {**raw, "models": list(dict.fromkeys(levels))}


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

    def expand(self, raw: dict[str, Any]) -> dict[str, Any]:
        """``models: DIR`` becomes a factor with one level per model folder in it (see the module docstring)."""
        return expand_models(raw)

    def check(self, spec: StudySpec) -> None:
        """Fail before any cell runs: every model must exist and every adapter name its base model."""
        from alignlab.core._models import check_model

        for cell in spec.cells:
            c = cell.config
            for name, model, _adapter in self._entries(c):
                if not model:
                    raise AlignlabError(f"field 'models': the adapter '{name}' names no base model "
                                        "(base_model_name_or_path); give the base as 'model'.")
                check_model(model, field="models" if c.models else "model")
            if c.candidates:
                from alignlab.backdoor.scan._candidates import read_candidates

                read_candidates(c.candidates)

    @staticmethod
    def _entries(config: ScanCellConfig) -> list[tuple[str, str, str | None]]:
        """(name, model, adapter) of what the cell scans: its model, its one model folder, or (a folder
        that was not expanded, e.g. a config built directly) each model folder in it."""
        if not config.models:
            return [("scan", config.model, config.adapter)]
        entry = zoo_entry(config.models, config.model)
        return [(Path(config.models).name, *entry)] if entry else zoo_models(config.models, config.model)

    def stages(self, config: ScanCellConfig) -> list[Stage]:
        inputs = config.model_dump(mode="json", exclude={"models", "model", "adapter", "device", "batch_size"})
        entries = self._entries(config)
        return [Stage("scan" if len(entries) == 1 else f"scan:{name}", {**inputs, "model": model, "adapter": adapter},
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
                    folder = cell["config"].get("models")
                    label = (name.removeprefix("scan:") if name != "scan"  # a folder scanned as stages of one cell
                             else Path(folder).name if folder else cell["config"].get("model"))
                    rows.append({"name": label, "model": r.get("model", name),
                                 "adapter": r.get("adapter"), "status": stage["status"],
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
