"""The augment stage: a consumer of the clean topics that lands augmented rows (``stage.py``)."""
