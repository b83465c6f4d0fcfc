"""Continuous evaluation of served models: live accuracy, hourly and daily checks, human reviews.

The trainer feeds every ``scored`` record to :class:`LiveAccuracy` and a
:class:`ReviewSampler`; a :class:`Schedule` says when :func:`hourly_evaluation`,
:func:`daily_suite` and the review export are due. Results become rows for
the ``evaluations`` and ``human_reviews`` tables and ``regression`` alerts.
"""

from streamtune.models.monitoring.continuous import (
    EvaluationResult,
    Schedule,
    daily_rows,
    daily_suite,
    hourly_evaluation,
)
from streamtune.models.monitoring.live import LiveAccuracy, hour_start
from streamtune.models.monitoring.review import (
    COLUMNS,
    ReviewSampler,
    import_reviews,
    summarise,
)

__all__ = [
    "COLUMNS",
    "EvaluationResult",
    "LiveAccuracy",
    "ReviewSampler",
    "Schedule",
    "daily_rows",
    "daily_suite",
    "hour_start",
    "hourly_evaluation",
    "import_reviews",
    "summarise",
]
