"""The live-order count behind `total` of the unfiltered GET /api/v1/orders (OrderCount).

On PostgreSQL two triggers on orders_order (migration 0004) add +1 when a live order appears
(insert, undelete) and -1 when one goes (soft or hard delete), in the writing transaction:
the count commits or rolls back with the order. Elsewhere (SQLite for `make run`) there are no
triggers and the total is counted.
"""

from __future__ import annotations

from django.db import connection, transaction

from orders.models import OrderCount

TABLE = OrderCount._meta.db_table

# Used by migration 0004 and by recount(); the triggers themselves live in the migration.
RECOUNT_SQL = f"""
DELETE FROM {TABLE};
INSERT INTO {TABLE} (merchant_id, mode, shard, count)
SELECT merchant_id, mode, 0, count(*) FROM orders_order WHERE deleted_at IS NULL GROUP BY merchant_id, mode;
"""


def maintained() -> bool:
    """Whether this database keeps the count (PostgreSQL, with the triggers)."""
    return connection.vendor == "postgresql"


def live_order_total(*, merchant_id: str, mode: str) -> int:
    """The merchant's live orders in `mode`: a sum over at most SHARDS rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(count), 0) FROM {TABLE} WHERE merchant_id = %s AND mode = %s",
                       [merchant_id, mode])
        return int(cursor.fetchone()[0])


def recount() -> None:
    """Rebuild every count from orders_order, with writes to it blocked meanwhile: for rows
    written with triggers off (a bulk COPY under session_replication_role = replica)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE orders_order IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(RECOUNT_SQL)
