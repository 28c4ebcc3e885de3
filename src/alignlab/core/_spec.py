"""Study specs: YAML in, validated cells out.

A spec names the study kind, a name, the seeds and the cell configuration. Any field given as a list
becomes a factor (for a field that is itself a list, a list of lists); the grid is every combination of
factor values times every seed. Each cell is validated by the study kind's pydantic config, so a bad
value is caught before any model loads, with an error naming the field.

Example spec::

    study: my-kind
    name: optimizers
    seeds: 3
    train:
      optimizer:
        name: [adamw, sgd]        # a factor with two levels

A study kind may rewrite the cell fields before the grid is built, by defining ``expand(raw) -> raw``
(optional; without it the fields are used as written). That is how one field value can stand for many
levels, e.g. a folder standing for the list of models in it, so that each becomes its own resumable cell.
Its :class:`AlignlabError` names the field; the spec's location is put in front.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignlab.core._errors import AlignlabError

__all__ = ["Cell", "Resources", "StudySpec", "config_hash", "init_hint", "load_spec", "parse_spec"]

STUDY_KEYS = ("study", "name", "description", "seeds", "resources")


class Resources(BaseModel):
    """What one cell needs from the machine it runs on (Ray schedules by it; local workers use the CPUs as threads)."""

    model_config = ConfigDict(extra="forbid")

    cpus: float = Field(1.0, gt=0, description="CPU cores per cell.")
    gpus: float = Field(0.0, ge=0, description="GPUs per cell (fractions share a GPU).")


@dataclass(frozen=True)
class Cell:
    """One condition × seed: a fully resolved, validated config."""

    id: str
    config: BaseModel
    factors: dict[str, Any]  # factor label -> this cell's level (seed included)

    @property
    def seed(self) -> int:
        return int(getattr(self.config, "seed", 0))


@dataclass
class StudySpec:
    kind: str
    name: str
    description: str
    seeds: list[int]
    raw: dict[str, Any]  # the cell fields as written (lists = factors)
    factors: dict[str, list[Any]] = field(default_factory=dict)  # dotted path -> levels
    cells: list[Cell] = field(default_factory=list)
    text: str = ""  # the YAML as written (comments kept), when the spec came from a file
    data: dict[str, Any] = field(default_factory=dict)  # the whole spec as parsed
    resources: Resources = field(default_factory=Resources)

    def yaml(self) -> str:
        """The spec as YAML: the original text when there is one."""
        return self.text or yaml.safe_dump(self.data, sort_keys=False)


def config_hash(config: BaseModel) -> str:
    """Content address of a cell: its full resolved config, canonical JSON, sha256 (16 hex digits)."""
    payload = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _is_list_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list_type(a) for a in typing.get_args(annotation))
    return annotation in (list, tuple)


def _model_class(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_class(arg)
            if found:
                return found
    return None


def _find_factors(raw: dict[str, Any], model: type[BaseModel], prefix: str, where: str) -> dict[str, list[Any]]:
    factors: dict[str, list[Any]] = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        info = model.model_fields.get(key)
        if info is None:
            continue  # pydantic reports unknown fields with suggestions below
        sub = _model_class(info.annotation)
        if sub is not None and isinstance(value, dict):
            factors.update(_find_factors(value, sub, path + ".", where))
            continue
        is_factor = isinstance(value, list) and (
            not _is_list_type(info.annotation) or (value and all(isinstance(v, list) for v in value))
        )
        if is_factor:
            if not value:
                raise AlignlabError(f"{where}: field '{path}' is an empty list; a factor needs at least one level.")
            factors[path] = value
    return factors


def _set_path(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        tree = tree[key]
    tree[leaf] = value


def _labels(paths: list[str]) -> dict[str, str]:
    """Shortest unambiguous label per dotted path (last components)."""
    labels = {}
    for path in paths:
        parts = path.split(".")
        for k in range(1, len(parts) + 1):
            label = ".".join(parts[-k:])
            if sum(1 for p in paths if p == label or p.endswith("." + label)) == 1:
                break
        labels[path] = label
    return labels


def _describe(error: dict[str, Any], model: type[BaseModel]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        parent: Any = model
        for part in error["loc"][:-1]:
            info = parent.model_fields.get(part) if isinstance(parent, type) else None
            parent = _model_class(info.annotation) if info else None
        known = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else (f" (known fields: {', '.join(known)})" if known else "")
        return f"'{loc}' is not a known field{hint}"
    given = error.get("input")
    shown = "" if isinstance(given, dict) else f" (got {given!r})"
    return f"field '{loc}': {error['msg']}{shown}"


def _study_name(name: Any, where: str) -> str:
    """A study's name is its folder's name under the study root (``studies/<name>``), so it may not
    leave that root: no path separators, no ``.``/``..``, not absolute, not empty."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise AlignlabError(f"{where}: field 'name' must be a text (the study folder's name), got {name!r}.")
    text = str(name).strip()
    bad = not text or text in (".", "..") or any(c in text for c in "/\\\0") or Path(text).is_absolute()
    if bad or text != str(name):
        raise AlignlabError(
            f"{where}: field 'name' is {name!r}; a study name is a folder name under the study root "
            "(studies/<name>), so it may not be empty, '.' or '..', contain '/' or '\\', or have leading or "
            "trailing spaces. Use e.g. 'name: my-study', and `--out` to put the study folder elsewhere."
        )
    return text


def parse_spec(data: Any, *, where: str = "spec", check: bool = True) -> StudySpec:
    """Validate a spec (already parsed from YAML) and expand it into cells.

    ``check=False`` skips the study kind's ``check`` (models exist, files are there): for a spec that was
    checked when its study started, re-read to report on it (perhaps offline) or by a worker process.
    """
    from alignlab.core._registry import get, names

    if not isinstance(data, dict):
        raise AlignlabError(f"{where}: expected a YAML mapping with 'study', 'name' and the study's fields.")
    kind = data.get("study")
    if not isinstance(kind, str):
        raise AlignlabError(f"{where}: field 'study' is missing; expected one of: {', '.join(names('study'))}.")
    study_kind = get("study", kind).factory()
    config_class: type[BaseModel] = study_kind.config_class
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise AlignlabError(f"{where}: field 'seeds' must be a count (e.g. 3) or a non-empty list of non-negative integers.")
    if len(set(seeds)) != len(seeds):
        raise AlignlabError(f"{where}: field 'seeds' repeats a seed: {seeds}.")
    try:
        resources = Resources.model_validate(data.get("resources") or {})
    except ValidationError as exc:
        raise AlignlabError(f"{where}: field 'resources': " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()) + " (expected {cpus: N, gpus: N}).") from None
    raw = {k: v for k, v in data.items() if k not in STUDY_KEYS}
    if "seed" in raw:
        raise AlignlabError(f"{where}: use 'seeds' (a count or a list), not 'seed'.")
    name = _study_name(data.get("name", kind), where)
    expanded = _expand(study_kind, raw, where, check)
    if expanded is not raw:
        # The spec's data keeps the expanded fields, since worker processes re-parse it: a worker then
        # sees the driver's cells, whatever happened since to what the fields stood for.
        raw, data = expanded, {**{k: v for k, v in data.items() if k in STUDY_KEYS}, **expanded}
    factors = _find_factors(raw, config_class, "", where)
    labels = _labels(list(factors))
    spec = StudySpec(kind, name, str(data.get("description") or ""), seeds, raw, factors,
                     data=data, resources=resources)
    problems: dict[str, None] = {}
    for levels in itertools.product(*factors.values()):
        tree = json.loads(json.dumps(raw))  # deep copy of plain YAML data
        for path, level in zip(factors, levels):
            _set_path(tree, path, level)
        for seed in seeds:
            try:
                config = config_class.model_validate({**tree, "seed": seed})
            except ValidationError as exc:
                for error in exc.errors():
                    problems[_describe(error, config_class)] = None
                continue
            cell_factors = {labels[p]: level for p, level in zip(factors, levels)} | {"seed": seed}
            spec.cells.append(Cell(config_hash(config), config, cell_factors))
    if problems:
        raise AlignlabError(
            f"{where} is not a valid '{kind}' study: " + "; ".join(problems)
            + init_hint(study_kind, kind)
        )
    if check:
        study_kind.check(spec)
    return spec


def _expand(study_kind: Any, raw: dict[str, Any], where: str, check: bool) -> dict[str, Any]:
    """The cell fields after the kind's optional ``expand`` hook (see the module docstring).

    Without checks (a study re-read to report on it, perhaps on a machine without what the fields name)
    fields that cannot be expanded there are kept as written, as the kind's ``check`` is skipped too.
    """
    expand = getattr(study_kind, "expand", None)
    if expand is None:
        return raw
    try:
        expanded = expand(json.loads(json.dumps(raw)))  # a copy: the hook may edit what it is given
    except AlignlabError as exc:
        if not check:
            return raw
        raise AlignlabError(f"{where}: {exc}") from None
    if not isinstance(expanded, dict):
        raise TypeError(f"{type(study_kind).__name__}.expand must return a dict of cell fields, "
                        f"got {type(expanded).__name__}")
    return expanded


def init_hint(study_kind: Any, kind: str) -> str:
    """The sentence a spec error ends with: the command the kind registered for its commented example.

    A kind says which command writes its example (``init_command``), since instruments group their kinds
    differently; one that says nothing is assumed to follow the ``alignlab <kind> init`` convention, and
    ``init_command = None`` means there is no such command.
    """
    command = getattr(study_kind, "init_command", f"alignlab {kind} init")
    return f". Run `{command}` for a commented example." if command else "."


def load_spec(path: str | Path, *, default_kind: str | None = None) -> StudySpec:
    """Read and validate a YAML study spec.

    ``default_kind``: the study kind of a spec that has no ``study:`` field (an instrument's own ``run``
    command knows its kind, so its specs may leave it out); the field is then added to the stored text, so
    the study folder's ``spec.yaml`` names its kind for ``alignlab report`` and resuming.
    """
    path = Path(path)
    if path.is_dir():
        raise AlignlabError(f"'{path}' is a folder; expected a YAML study spec file (e.g. examples/forecast_backtest.yaml).")
    if not path.is_file():
        raise AlignlabError(f"Spec file '{path}' does not exist.")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f", line {mark.line + 1}" if mark else ""
        raise AlignlabError(f"{path}{at}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None
    if default_kind and isinstance(data, dict) and "study" not in data:
        data = {"study": default_kind, **data}
        text = f"study: {default_kind}   # added: the spec had no 'study' field and was run as a {default_kind} study\n{text}"
    spec = parse_spec(data, where=str(path))
    spec.text = text
    return spec
