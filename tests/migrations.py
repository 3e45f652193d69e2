"""Moving the test database between migrations, for tests of data that older migrations left."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> None:
    """Apply or unapply migrations until each (app label, migration name) of `targets` is the latest applied."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def latest(app_label: str) -> list[tuple[str, str]]:
    """Return the last migration of `app_label` as a target of `migrate`."""
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == app_label]
