"""Hours in the attribution side's pre-aggregate (``dashboard/attributed_daily.py``), so that the line
between it and the raw tables can fall at the start of an hour rather than of a day, and the reports read
about an hour live rather than the whole day so far.

* ``attributed_installs.conversion_bucket``, ``attributed_revenue.conversion_bucket``: the start of the
  conversions' hour (``toStartOfHour`` in the app's time zone: its hours fall inside its days in any
  zone) when they came from the start of the day before the refresh's day on, else of their day.
* ``attributed_revenue.purchase_bucket``: the same of the purchases; ``first_payers`` is now the credit of
  the installs whose first purchase was in the row (an hour, in the rows per hour).

Nothing to backfill: readers skip a generation written before this (``ReportRefresh.layout``) until the
next refresh writes one.
"""

OPERATIONS = [
    "ALTER TABLE attributed_installs ADD COLUMN IF NOT EXISTS conversion_bucket DateTime('UTC') AFTER day",
    "ALTER TABLE attributed_revenue ADD COLUMN IF NOT EXISTS conversion_bucket DateTime('UTC') AFTER day",
    "ALTER TABLE attributed_revenue ADD COLUMN IF NOT EXISTS purchase_bucket DateTime('UTC') AFTER revenue_day",
]
