"""Staging tables: loaded, indexed and analyzed for the checks and writes that read them."""

import pytest
from django.db import connection

from retention.importing.staging import StagingTable
from tests.conftest import require_postgresql


@pytest.fixture(autouse=True)
def postgresql(db):
    require_postgresql("planner statistics are read from PostgreSQL's catalog")


def test_loaded_table_has_planner_statistics():
    columns = [("line", "integer"), ("external_id", "varchar(100)")]
    with StagingTable("tamarind_stage_statistics", columns, indexes=("external_id",)) as stage:
        for line in range(2, 502):
            stage.add((line, f"ACC-{line}"))
        stage.close_loading()

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_distinct FROM pg_stats WHERE tablename = %s AND attname = 'external_id'", [stage.name]
            )
            statistics = cursor.fetchall()

    # -1 means that every value is distinct: the planner then expects one row per id.
    assert statistics == [(-1.0,)]
