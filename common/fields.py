"""Model fields shared by the apps."""

from django.db import models

# PostgreSQL's collation that compares text byte by byte.
BYTE_ORDER_COLLATION = "C"


class ByteOrderCharField(models.CharField):
    """Text that the database compares and sorts byte by byte, whatever the database's locale.

    SQLite and DuckDB compare text byte by byte already, and PostgreSQL gets
    the "C" collation. Byte comparisons cost less than a locale's rules, and a
    key sorted by DuckDB is then in the order PostgreSQL expects.
    """

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = BYTE_ORDER_COLLATION
        return parameters
