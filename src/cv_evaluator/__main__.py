"""`python -m cv_evaluator` runs the command line (how maintenance drills start a service)."""

from cv_evaluator.cli import main

main(prog_name="cv-evaluator")
