"""On PostgreSQL the security log stays append-only, except for retention: a DELETE goes through only
for rows older than the cutoff its own transaction declared (``SET LOCAL unmogrowp.retention_cutoff``,
accounts.audit.security_events_expire). UPDATE is refused as before."""

from django.db import migrations

RETENTION_SQL = """
CREATE OR REPLACE FUNCTION accounts_securityevent_append_only() RETURNS trigger AS $$
DECLARE
    cutoff text := current_setting('unmogrowp.retention_cutoff', true);
BEGIN
    IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND cutoff <> '' AND OLD.timestamp < cutoff::timestamptz THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'accounts_securityevent is append-only';
END;
$$ LANGUAGE plpgsql;
"""

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION accounts_securityevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'accounts_securityevent is append-only';
END;
$$ LANGUAGE plpgsql;
"""


def retention(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RETENTION_SQL)


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_alter_securityevent_action")]

    operations = [migrations.RunPython(retention, append_only)]
