"""Model evaluation: accuracy per head, robustness and efficiency, stored beside each model.

:func:`evaluate` measures an exported model (a :class:`~streamtune.models.scoring.Scorer`)
on dataset rows; :func:`evaluate_model` does it for a registry version on its
snapshot's test split and writes ``evaluation.json`` and ``evaluation.md``
into the version folder (:func:`write_report`).
"""

from streamtune.models.evaluation.efficiency import efficiency, model_size
from streamtune.models.evaluation.evaluate import (
    carried_parameters,
    evaluate,
    evaluate_model,
    headline,
)
from streamtune.models.evaluation.metrics import accuracy, classification
from streamtune.models.evaluation.perturb import EDGE_CASES, KINDS, RATES, edge_case, perturb
from streamtune.models.evaluation.predict import Predicted, predict_inputs
from streamtune.models.evaluation.report import render_markdown, write_report

__all__ = [
    "EDGE_CASES",
    "KINDS",
    "RATES",
    "Predicted",
    "accuracy",
    "carried_parameters",
    "classification",
    "edge_case",
    "efficiency",
    "evaluate",
    "evaluate_model",
    "headline",
    "model_size",
    "perturb",
    "predict_inputs",
    "render_markdown",
    "write_report",
]
