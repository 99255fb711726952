"""The shared base: paths (``config``), the validated methodology and unit registries
(``codebook``), the user-facing errors (``errors``), atomic file writing (``io``),
Vietnamese number and date formats (``formats``) and the processed-microdata contract
(``microdata``).

Imports nothing from the other stages of sipas; every stage may import it.
"""
