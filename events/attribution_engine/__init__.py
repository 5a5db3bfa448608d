"""The attribution engine: conversions x touchpoints -> attributions, computed in ClickHouse.

* ``rules.py``      an app's settings version as the numbers the SQL needs; match tiers and models
* ``sql.py``        the pipeline as SQL: match into the run's scratch table, then decide and credit
* ``fraud.py``      click-flooding sources (click injection is decided per touch inside the SQL)
* ``datadriven.py`` Markov-chain removal effects per channel (transitions from ClickHouse, solved here)
* ``services.py``   runs: a window, a recompute, the continuous follow
* ``selectors.py``  explanations, installs and inherited revenue per source; ``apis.py`` the explanation API
"""
