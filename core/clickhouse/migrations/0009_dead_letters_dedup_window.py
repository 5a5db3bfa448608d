"""A retried insert of the same dead letters (same deduplication token) is dropped, as it is for
``events`` and ``touchpoints``: without a window a non-replicated table ignores the token, and a
consumer that retried after a lost connection stored each dead letter twice."""

OPERATIONS = [
    "ALTER TABLE dead_letters MODIFY SETTING non_replicated_deduplication_window = 10000",
]
