"""Helpers shared by test modules: harnesses, fills, settings and sample data.

No test module imports another test module; what two of them share lives here.
"""
