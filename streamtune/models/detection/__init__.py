"""Drift detection (River) and new-pattern mining over the live event stream.

The worker feeds each clean event's signals to :class:`DriftMonitor` and its
texts to :class:`PatternMiner`; both return ``Alert`` objects to publish.
:class:`DetectionState` saves and restores both across restarts.
"""

from streamtune.models.detection.detectors import DETECTORS, UnknownDetector, make_detector
from streamtune.models.detection.monitor import SIGNALS, DriftMonitor
from streamtune.models.detection.patterns import PatternMiner
from streamtune.models.detection.state import DetectionState, state_path

__all__ = ["DETECTORS", "SIGNALS", "DetectionState", "DriftMonitor", "PatternMiner",
           "UnknownDetector", "make_detector", "state_path"]
