"""The moment the journey tests run at, unless a test travels elsewhere."""

import datetime

NOW = datetime.datetime(2024, 6, 30, 12, tzinfo=datetime.UTC)
