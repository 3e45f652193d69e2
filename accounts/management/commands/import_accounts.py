from retention.importing.commands import ImportCommand
from retention.models import ImportKind


class Command(ImportCommand):
    help = (
        "Create or update accounts from a CSV file with the columns account_id, account_name and optionally "
        "parent_account_id, segment and tam_email. One invalid row rejects the whole file."
    )
    kind = ImportKind.ACCOUNTS
