"""PostgreSQL-only indexes for the order filters that a btree in Meta cannot serve:
merchant_order_id prefix (varchar_pattern_ops, whatever the database collation) and the
customer search (trigram GIN over email and name, for icontains). SQLite (make run) skips them.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS order_moid_prefix_idx ON orders_order "
    "(merchant_id, mode, merchant_order_id varchar_pattern_ops)",
    # Django's icontains is UPPER(col::text) LIKE UPPER(%s): index exactly that expression.
    "CREATE INDEX IF NOT EXISTS order_customer_trgm_idx ON orders_order USING gin "
    "((UPPER(customer_email::text)) gin_trgm_ops, (UPPER(customer_name::text)) gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS order_customer_trgm_idx",
    "DROP INDEX IF EXISTS order_moid_prefix_idx",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
