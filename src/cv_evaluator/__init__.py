"""AI CV Evaluator: evidence-based screening of CVs and project reports."""

__version__ = "0.1.0"
