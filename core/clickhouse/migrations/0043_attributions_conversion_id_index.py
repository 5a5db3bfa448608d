"""A bloom-filter index on ``attributions.conversion_id``: one conversion's result (its explanation,
``dashboard/explanation.py``) is looked up by its id, which the table's order (by conversion time)
does not find without reading every row."""

OPERATIONS = [
    "ALTER TABLE attributions ADD INDEX IF NOT EXISTS conversion_id_bloom conversion_id TYPE bloom_filter GRANULARITY 4",
    "ALTER TABLE attributions MATERIALIZE INDEX conversion_id_bloom",
]
