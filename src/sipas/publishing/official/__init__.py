"""The decision's documents as a province issues them (issue 14).

* :mod:`.tables`    the official table model: STT, Roman-numeral group rows, rank and its
                    change since the previous comparable year, units at or above a threshold;
* :mod:`.settings`  ``params/official.yaml`` (threshold, national benchmark) and
                    ``params/release/<year>.yaml`` (decision number, date, signer);
* :mod:`.docx`      low-level Word writing (Decree 30/2020/NĐ-CP layout, deterministic files);
* :mod:`.documents` the report (Báo cáo), Phụ lục I–IV and one annex per unit, in Word;
* :mod:`.convert`   PDF from the Word files with LibreOffice headless;
* :mod:`.release`   ``sipas release``: a frozen, checksummed, numbered set.
"""
