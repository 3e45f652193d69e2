"""Imports of MRR lines and subscription periods, and the runs that record every import.

`retention.tasks.run_import` calls `run_import(import_run_id)` for uploads.
"""

from .mrr import MRR_COLUMNS, import_mrr
from .runs import confirm_mapping, create_upload, execute, run_import, start_command_run
from .subscriptions import SUBSCRIPTION_COLUMNS, import_subscriptions

__all__ = [
    "MRR_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "confirm_mapping",
    "create_upload",
    "execute",
    "import_mrr",
    "import_subscriptions",
    "run_import",
    "start_command_run",
]
