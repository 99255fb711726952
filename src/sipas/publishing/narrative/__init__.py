"""Vietnamese sentences generated from the numbers, so the text stays true when the
data changes.

Each function returns a list of sentences (or paragraphs) as trusted HTML: names and
labels come from the registry and the codebook and are escaped here; respondents' free
text never enters a sentence. The word "có ý nghĩa thống kê" is written only where the
statistics' test table says so (:meth:`sipas.publishing.report.Report.test`); without a test
table a change is reported as a plain difference. Where a rank interval is wide (the
``band`` of the ranks table, ``publication.bands``), a unit is placed in the top, middle or
bottom group instead of at a strict rank (:mod:`sipas.publishing.narrative.common`).

By responsibility: :mod:`~.common` (shared phrases), :mod:`~.unit` (a unit's annex),
:mod:`~.province` (the province report), :mod:`~.topics` (expectations, perceptions,
comment themes), :mod:`~.method` (the method note). Everything is re-exported here.
"""

from sipas.publishing.narrative.common import (
    NEAR_ZERO,
    NOT_SIGNIFICANT,
    SIGNIFICANT,
    b,
    change_phrase,
    compare,
    i,
    place_phrase,
    with_ci,
)
from sipas.publishing.narrative.method import design_note, method_note, method_note_text
from sipas.publishing.narrative.province import (
    bands_text,
    basis,
    changes_text,
    groups_text,
    limitations,
    province_summary,
    ranking_text,
    recommendations,
    results_text,
    sample_text,
)
from sipas.publishing.narrative.topics import expectations_text, perceptions_text, themes_text
from sipas.publishing.narrative.unit import change_sentence, model_based_text, standing, unit_change_rows, unit_summary

__all__ = ["NEAR_ZERO", "NOT_SIGNIFICANT", "SIGNIFICANT", "b", "bands_text", "basis", "change_phrase", "change_sentence", "changes_text", "compare",
           "design_note", "expectations_text", "groups_text", "i", "limitations", "method_note", "model_based_text", "method_note_text",
           "perceptions_text", "place_phrase", "province_summary", "ranking_text", "recommendations", "results_text", "sample_text",
           "standing", "themes_text", "unit_change_rows", "unit_summary", "with_ci"]
