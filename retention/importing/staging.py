"""Temporary tables that hold the validated rows of one import until the final write.

Rows go to the database in batches as the file is read, so memory stays bounded
whatever the file's length, and checks that span rows (ownership of a
subscription, duplicates, sums) run as SQL over the whole file. A temporary
table belongs to one database connection, so concurrent imports in other
workers never see each other's rows.
"""

from collections.abc import Callable, Sequence

from django.db import DatabaseError, connection

from common.csvimport import ERROR_LIMIT, RowError

BATCH_SIZE = 5000


def drop_temporary_table_sql(name: str) -> str:
    """Return the DROP of temporary table `name`; naming the temporary schema leaves a regular table alone."""
    schema = "pg_temp" if connection.vendor == "postgresql" else "temp"
    return f"DROP TABLE IF EXISTS {schema}.{name}"


class StagingTable:
    """A temporary table created on entry and dropped on exit.

    `columns` are (name, SQL type) pairs; `indexes` are column names to index
    after loading. Use `add()` for each row and `close_loading()` once the file
    has been read.
    """

    def __init__(self, name: str, columns: Sequence[tuple[str, str]], indexes: Sequence[str] = ()):
        self.name = name
        self.columns = columns
        self.indexes = indexes
        self.row_count = 0
        self._batch: list[tuple] = []
        self._insert_sql = (
            f"INSERT INTO {name} ({', '.join(column for column, _ in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        self._copy_sql = f"COPY {name} ({', '.join(column for column, _ in columns)}) FROM STDIN"

    def __enter__(self):
        definition = ", ".join(f"{column} {sql_type}" for column, sql_type in self.columns)
        with connection.cursor() as cursor:
            cursor.execute(drop_temporary_table_sql(self.name))
            cursor.execute(f"CREATE TEMPORARY TABLE {self.name} ({definition})")
        return self

    def __exit__(self, exc_type, exc, traceback):
        try:
            with connection.cursor() as cursor:
                cursor.execute(drop_temporary_table_sql(self.name))
        except DatabaseError:
            # An aborted PostgreSQL transaction rejects the DROP; its rollback
            # removes the table anyway. Without a pending error this is a real fault.
            if exc_type is None:
                raise
        return False

    def add(self, row: tuple) -> None:
        self._batch.append(row)
        if len(self._batch) >= BATCH_SIZE:
            self._flush()

    def close_loading(self) -> None:
        """Write the last batch, build the indexes the checks need and gather the table's statistics.

        On PostgreSQL autovacuum never analyzes a temporary table. Without statistics the
        planner took a staged id to match about 1,200 rows, and an update of
        240,000 accounts built a hash of every account once per row.
        """
        self._flush()
        with connection.cursor() as cursor:
            for column in self.indexes:
                cursor.execute(f"CREATE INDEX {self.name}_{column}_idx ON {self.name} ({column})")
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {self.name}")

    def _flush(self) -> None:
        if not self._batch:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY sends a batch in one round trip, many times faster than INSERTs.
                with cursor.cursor.copy(self._copy_sql) as copy:
                    for row in self._batch:
                        copy.write_row(row)
            else:
                cursor.executemany(self._insert_sql, self._batch)
        self.row_count += len(self._batch)
        self._batch = []

    def fetch_errors(self, sql: str, params: Sequence, to_error: Callable[[tuple], RowError]) -> tuple[list, int]:
        """Run `sql` (a SELECT whose first column is the line number) and return its first errors and their count."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS found", params)
            total = cursor.fetchone()[0]
            if not total:
                return [], 0
            cursor.execute(f"{sql} ORDER BY 1 LIMIT {ERROR_LIMIT}", params)
            return [to_error(row) for row in cursor.fetchall()], total
