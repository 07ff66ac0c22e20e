"""A migration operation for the index entries a write pays for and no query reads.

On PostgreSQL Django gives every indexed character column (a character primary key, a foreign
key to one, a unique token) a second btree in `varchar_pattern_ops`, named `<...>_like`, so
that `LIKE 'abc%'` can use an index. fluxa never filters those columns by prefix (ids and
tokens are looked up whole; the admin's search is `UPPER(..) LIKE '%..%'`, which no btree
serves), yet each such index takes an entry on every INSERT and on every UPDATE that is not
HOT: a scan pass's orders, events and deliveries, and every charge.

`DropLikeIndex(table, column)` drops that index, reversibly. Django's own later operations on
the column stay safe: its PostgreSQL schema editor drops a `_like` index with `DROP INDEX IF
EXISTS`. Foreign keys whose plain index is the prefix of a composite index are declared with
`db_index=False` instead, which drops both of theirs.
"""

from __future__ import annotations

from django.db.migrations.operations.base import Operation


class DropLikeIndex(Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str, column: str):
        self.table = table
        self.column = column

    def deconstruct(self):
        return self.__class__.__name__, [self.table, self.column], {}

    def state_forwards(self, app_label, state):
        pass  # an index Django made on its own: not part of the model state

    def _name(self, schema_editor) -> str:
        return schema_editor._create_index_name(self.table, [self.column], suffix="_like")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(self._name(schema_editor))}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            quote = schema_editor.quote_name
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(self._name(schema_editor))} ON {quote(self.table)} "
                f"({quote(self.column)} varchar_pattern_ops)")

    def describe(self):
        return f"Drop the varchar_pattern_ops index on {self.table}.{self.column}"

    @property
    def migration_name_fragment(self):
        return f"drop_{self.table}_{self.column}_like"
