"""Model evaluation: accuracy per head, robustness and efficiency, stored beside each model.

:func:`evaluate` measures an exported model (a :class:`~streamtune.models.scoring.Scorer`)
on dataset rows; :func:`evaluate_model` does it for a registry version on its
snapshot's test split, beside a TF-IDF + logistic regression baseline trained
on the same snapshot (:func:`fit_baseline`), and writes ``evaluation.json`` and
``evaluation.md`` into the version folder (:func:`write_report`);
:func:`baseline_table` and :func:`class_table` show it in the terminal.
"""

from streamtune.models.evaluation.baseline import Baseline, fit_baseline, fit_texts
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
from streamtune.models.evaluation.report import class_rows, render_markdown, write_report
from streamtune.models.evaluation.terminal import TERMINAL_ROWS, baseline_table, class_table

__all__ = [
    "EDGE_CASES",
    "KINDS",
    "RATES",
    "TERMINAL_ROWS",
    "Baseline",
    "Predicted",
    "accuracy",
    "baseline_table",
    "carried_parameters",
    "class_rows",
    "class_table",
    "classification",
    "edge_case",
    "efficiency",
    "evaluate",
    "fit_baseline",
    "fit_texts",
    "evaluate_model",
    "headline",
    "model_size",
    "perturb",
    "predict_inputs",
    "render_markdown",
    "write_report",
]
