from retention.importing.commands import ImportCommand
from retention.models import ImportKind


class Command(ImportCommand):
    help = (
        "Import monthly MRR lines (month, account_id, subscription_id, product, quantity, mrr, charge_type). "
        "Each month in the file replaces that month's stored lines. One invalid row rejects the whole file."
    )
    kind = ImportKind.MRR
