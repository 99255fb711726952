"""Estimation: the design-based survey engine (``survey``), the SIPAS indices
(``indices``), significance tests (``significance``), ranks (``ranks``), reliability
(``reliability``), drivers (``drivers``) and the tidy result tables a year publishes
(``tables``).

May import ``sipas.base`` only (and, for the frame it reads, the processed microdata that
``sipas.intake`` writes, through ``sipas.base.microdata``). Never imports publishing or
running.
"""
