"""Where the tables are: one ClickHouse node (or chdb), or a cluster (CLICKHOUSE_CLUSTER set).

On a cluster every table of the migrations is two: ``<name>_local``, a Replicated*MergeTree on each
node (ON CLUSTER), holding one shard's rows, and ``<name>``, a Distributed table over them, which
every query and insert of the product names as before. Rows are sharded by the first column of the
table's sorting key — the app for every per-app table — so every row of an app, and every copy of
a row that ReplacingMergeTree collapses, lives on one shard; per-app joins then stay on the shard
(``distributed_product_mode='local'``). The migrations are written for one node and rendered here
for a cluster (``render``): the applied SQL's checksum is the one-node text, so both topologies
share one history.

Mutations and partition operations (erasure, retention) act on the local tables: ``mutated``.
"""

from django.conf import settings


def cluster() -> str:
    return settings.CLICKHOUSE_CLUSTER


def mutated(table: str) -> str:
    """The table as an ALTER ... DELETE, a lightweight DELETE or a partition operation names it."""
    name = cluster()
    return f"{table}_local ON CLUSTER '{name}'" if name else table
