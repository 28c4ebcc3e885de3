"""The shared experiment engine: registry, models, generation, training, studies, statistics, reports.

Importing it stays light (no torch, transformers or ray until a function needs them).
"""

from alignlab.core._chat import format_prompt, format_response
from alignlab.core._errors import AlignlabError, MissingExtraError, require
from alignlab.core._generation import autocast, generate, supports_bf16
from alignlab.core._models import ModelSource, load_model, model_identity, resolve_device, resolve_source
from alignlab.core._paths import cache_dir
from alignlab.core._registry import RegistryEntry, create, get, names, register
from alignlab.core._report import HtmlReport, markdown_table, new_figure

__all__ = [
    "AlignlabError",
    "HtmlReport",
    "MissingExtraError",
    "ModelSource",
    "RegistryEntry",
    "autocast",
    "cache_dir",
    "create",
    "format_prompt",
    "format_response",
    "generate",
    "get",
    "load_model",
    "markdown_table",
    "model_identity",
    "names",
    "new_figure",
    "register",
    "require",
    "resolve_device",
    "resolve_source",
    "supports_bf16",
]
