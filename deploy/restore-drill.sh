#!/usr/bin/env bash
# The restore drill: back up the stores this environment configures, restore the backup into EMPTY
# scratch stores, replay the dead-letter table there, and store what that and the restored outbox
# carry. Every step checks itself (restore_stores compares every table with the backup's manifest)
# and the script stops at the first failure.
#
#   deploy/restore-drill.sh DRILL_VAR_DIR [DRILL_DATABASE_URL]
#
# The scratch side runs embedded: ClickHouse in chdb under DRILL_VAR_DIR, the outbox as its bus (so the
# replay never reaches the live Kafka topics) and no Redis. Its OLTP database is SQLite under
# DRILL_VAR_DIR, or DRILL_DATABASE_URL (an empty PostgreSQL database) when the live one is PostgreSQL.
# With a ClickHouse server, BACKUP_DIR must be a path the server and this machine share.
# docs/operations.md, "Backup and restore", says when to run it and how to restore for real.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
drill_var=${1:?usage: deploy/restore-drill.sh DRILL_VAR_DIR [DRILL_DATABASE_URL]}
drill_db=${2:-sqlite:///$drill_var/db.sqlite3}

echo "== backup"
backup=$("$python" manage.py backup_stores | tail -n 1)
echo "$backup"

drill() {
  env -u KAFKA_BOOTSTRAP_SERVERS -u REDIS_URL -u CLICKHOUSE_URL -u CLICKHOUSE_CLUSTER -u CLICKHOUSE_DATABASE \
    VAR_DIR="$drill_var" DATABASE_URL="$drill_db" BACKUP_DIR="$(dirname "$backup")" "$python" manage.py "$@"
}

echo "== restore into empty stores ($drill_var)"
mkdir -p "$drill_var"
drill restore_stores "$backup"
echo "== replay the dead letters"
drill replay_dead_letters
drill consume_events --until-idle --metrics-port 0
echo "== restore drill passed: $backup"
