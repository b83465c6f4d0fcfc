"""streamtune: streaming, real-time learning for command-driven control systems."""

__version__ = "0.1.0"
