"""Publishing: everything a reader sees, built from the published tables. The page data
layer (``report``), the annex sections (``annex``), sentences (``narrative``), charts
(``charts``), the house page and notebook rendering (``render``, ``templates/``,
``assets/``), PDF (``pdf``), the Excel workbook (``excel``), the front doors (``site``)
and the trends annex (``trends``).

May import ``sipas.base`` and ``sipas.estimation``; never ``sipas.running``.
"""
