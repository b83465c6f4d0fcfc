"""streamtune: streaming, real-time learning for command-driven control systems."""

from streamtune.native import enable

__version__ = "0.1.0"

enable()  # the compiled hot path, where a build matches the sources (native.py)
