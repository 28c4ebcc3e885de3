"""The shared experiment engine: registry, models, generation, training, studies, statistics, reports.

Importing it stays light (no torch, transformers or ray until a function needs them).
"""

from alignlab.core._chat import format_prompt, format_response
from alignlab.core._data import Prompt, load_prompts
from alignlab.core._errors import AlignlabError, MissingExtraError, require
from alignlab.core._generation import autocast, generate, supports_bf16
from alignlab.core._model_sources import resolve_device
from alignlab.core._models import ModelSource, load_model, model_identity, resolve_source
from alignlab.core._optim import OptimizerConfig
from alignlab.core._paths import cache_dir
from alignlab.core._registry import RegistryEntry, create, get, names, register
from alignlab.core._report import HtmlReport, markdown_table, new_figure
from alignlab.core._spec import Cell, StudySpec, load_spec, parse_spec
from alignlab.core._stage import Stage, StageContext, StudyKind
from alignlab.core._store import Store
from alignlab.core._study import Study
from alignlab.core._training import Example, TrainConfig, evaluate_loss, train
from alignlab.core.stats import wilson

__all__ = [
    "AlignlabError",
    "Cell",
    "Example",
    "HtmlReport",
    "MissingExtraError",
    "ModelSource",
    "OptimizerConfig",
    "Prompt",
    "RegistryEntry",
    "Stage",
    "StageContext",
    "Store",
    "Study",
    "StudyKind",
    "StudySpec",
    "TrainConfig",
    "autocast",
    "cache_dir",
    "create",
    "evaluate_loss",
    "format_prompt",
    "format_response",
    "generate",
    "get",
    "load_model",
    "load_prompts",
    "load_spec",
    "markdown_table",
    "model_identity",
    "names",
    "new_figure",
    "parse_spec",
    "register",
    "require",
    "resolve_device",
    "resolve_source",
    "supports_bf16",
    "train",
    "wilson",
]
