"""Trends across years: the tidy table (:mod:`.table`: series, breaks, comparisons and
tests) and the annex that shows it (:mod:`.annex`: ``TrendsAnnex``, the chart, how the
trends notebook becomes ``outputs/trends.html``)."""

from sipas.publishing.trends.annex import KICKER, TrendsAnnex, trend_break_chart, trends_html_path, trends_spec
from sipas.publishing.trends.table import (
    TREND_COLUMNS,
    available_years,
    crosswalks_between,
    parse_years,
    read_indices,
    trends_table,
    write_trends_table,
)

__all__ = ["KICKER", "TREND_COLUMNS", "TrendsAnnex", "available_years", "crosswalks_between", "parse_years",
           "read_indices", "trend_break_chart", "trends_html_path", "trends_spec", "trends_table",
           "write_trends_table"]
