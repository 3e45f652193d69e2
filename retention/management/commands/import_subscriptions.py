from retention.importing.commands import ImportCommand
from retention.models import ImportKind


class Command(ImportCommand):
    help = (
        "Import subscription periods (subscription_id, account_id, product, quantity, mrr, start_date, end_date) "
        "as monthly recurring lines up to the current month. Every month from the earliest start is replaced. "
        "One invalid row rejects the whole file."
    )
    kind = ImportKind.SUBSCRIPTIONS
