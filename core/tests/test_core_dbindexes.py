"""core/dbindexes.py: the tables every charge and every scan pass write carry no index that no
query reads (Django's `_like` pattern indexes on ids, and foreign-key indexes a composite index
already starts with), the lookups those indexes seemed to serve still use an index, and the
migration that drops them goes back and forth."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db

HOT_TABLES = ("orders_order", "orders_payment", "orders_orderevent", "webhooks_event", "webhooks_delivery",
              "wallets_transfer", "wallets_depositaddress", "merchants_requestnonce")


def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the indexes dropped are PostgreSQL's")


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def _like_indexes() -> list[str]:
    return sorted(name for table in HOT_TABLES for name, sql in _indexes(table).items()
                  if name.endswith("_like") and "varchar_pattern_ops" in sql)


def _columns(sql: str) -> str:
    return sql[sql.index("(") + 1:sql.rindex(")")]


def test_hot_tables_have_no_pattern_index_and_no_fk_index_a_composite_one_starts_with():
    _postgresql()
    assert _like_indexes() == []
    for table, column, composite in [("orders_order", "merchant_id", "order_list_idx"),
                                     ("webhooks_event", "merchant_id", "event_list_idx"),
                                     ("webhooks_delivery", "event_id", "delivery_one_per_endpoint"),
                                     ("wallets_transfer", "order_id", "transfer_order_status_idx")]:
        indexes = _indexes(table)
        assert _columns(indexes[composite]).startswith(column + ","), (table, composite)
        alone = [name for name, sql in indexes.items() if _columns(sql) == column]
        assert alone == [], (table, alone)


@pytest.mark.parametrize("sql", [
    "SELECT 1 FROM orders_order WHERE merchant_id = 'mer_x' LIMIT 1",  # PROTECT of a merchant's delete
    "SELECT 1 FROM webhooks_event WHERE merchant_id = 'mer_x'",  # CASCADE of a merchant's delete
    "SELECT 1 FROM webhooks_delivery WHERE event_id = 'evt_x'",
    "SELECT 1 FROM wallets_transfer WHERE order_id = 'ord_x'",
    "SELECT 1 FROM orders_order WHERE id = 'ord_x'",
    "SELECT 1 FROM orders_order WHERE checkout_token = 'tok'",
    "SELECT 1 FROM orders_payment WHERE order_id = 'ord_x'",
    "SELECT 1 FROM orders_orderevent WHERE order_id = 'ord_x'",
    "SELECT 1 FROM webhooks_delivery WHERE endpoint_id = 'whe_x'",
    "SELECT 1 FROM merchants_requestnonce WHERE signature_hash = 'x'",  # the replay check
])
def test_the_lookups_of_the_dropped_indexes_still_use_an_index(sql):
    _postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_the_indexes_and_puts_them_back_when_reversed():
    _postgresql()
    executor = MigrationExecutor(connection)
    targets = [("orders", "0010_amount_sent"), ("webhooks", "0009_endpoint_circuit_breaker"),
               ("wallets", "0006_chaincursor_pending_orders"), ("merchants", "0006_auto_refund")]
    try:
        executor.migrate(targets)
        back = {(table, _columns(sql).split()[0]) for table in HOT_TABLES for name, sql in _indexes(table).items()
                if name.endswith("_like") and "varchar_pattern_ops" in sql}
        assert {("orders_order", "id"), ("orders_order", "checkout_token"), ("webhooks_event", "id"),
                ("webhooks_delivery", "endpoint_id"), ("merchants_requestnonce", "signature_hash")} <= back
        assert any(_columns(sql) == "merchant_id" for sql in _indexes("orders_order").values())
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert _like_indexes() == []
