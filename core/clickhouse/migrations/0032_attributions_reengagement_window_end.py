"""A re-engagement or a re-attribution credited to a retargeting touch stores the end of its
re-engagement window (the app's setting, default 30 days): until then the device's in-app revenue is
credited to that touch instead of the install's (dashboard.analytics).

Rows stored before have no end, so their revenue stays with the install until the period is
recomputed: ``manage.py run_attribution --recompute --from … --to …``.
"""

OPERATIONS = [
    "ALTER TABLE attributions ADD COLUMN IF NOT EXISTS reengagement_window_end Nullable(DateTime64(3, 'UTC'))",
]
