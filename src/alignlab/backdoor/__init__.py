"""Backdoor persistence lab: plant a trigger → behaviour backdoor, apply safety training, measure what persists.

Example::

    from alignlab.backdoor import BackdoorConfig
    from alignlab.core import Study
    study = Study.from_spec("examples/optimizer_cot_grid.yaml")
    study.run()
"""

from alignlab.backdoor._claims import CLAIM_METHODS, CLAIM_SCOPES, DEFAULT_CLAIMS, check_claims, method_label
from alignlab.backdoor._config import (
    AdversarialSettings,
    BackdoorConfig,
    BackdoorSettings,
    DataSettings,
    DPOSettings,
    EvalSettings,
    GateSettings,
    InsertionSettings,
    LoraSettings,
    SafetySettings,
)
from alignlab.backdoor._data import build_insertion_data, insert_trigger, phrase_density
from alignlab.backdoor._evaluate import build_eval_sets, evaluate
from alignlab.backdoor._persistence import cell_outcomes, persistence_summary, persistence_table
from alignlab.backdoor._redteam import trigger_like, trigger_variants
from alignlab.backdoor._safety import SafetyRun
from alignlab.backdoor._scoring import strip_scratchpad
from alignlab.backdoor._study import BackdoorStudy
from alignlab.backdoor._style import restyle_answer

__all__ = [
    "AdversarialSettings",
    "BackdoorConfig",
    "BackdoorSettings",
    "BackdoorStudy",
    "CLAIM_METHODS",
    "CLAIM_SCOPES",
    "DEFAULT_CLAIMS",
    "DPOSettings",
    "DataSettings",
    "EvalSettings",
    "GateSettings",
    "InsertionSettings",
    "LoraSettings",
    "SafetyRun",
    "SafetySettings",
    "build_eval_sets",
    "build_insertion_data",
    "cell_outcomes",
    "check_claims",
    "evaluate",
    "insert_trigger",
    "method_label",
    "persistence_summary",
    "persistence_table",
    "phrase_density",
    "restyle_answer",
    "strip_scratchpad",
    "trigger_like",
    "trigger_variants",
]
