"""Intake: raw survey files (csv / xlsx / sav) -> processed microdata, quarantine and a
validation report, through the codebook. Entry point: :func:`run_intake`."""

from .core import IntakeResult, find_inputs, run_intake
from .mapping import Codebook
from .readers import IntakeError
from .rules import FLAGS, REASONS, IntakeRules
from .schema import processed_schema

__all__ = ["run_intake", "IntakeResult", "IntakeError", "Codebook", "REASONS", "FLAGS",
           "IntakeRules", "processed_schema", "find_inputs"]
