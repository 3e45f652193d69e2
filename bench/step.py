"""Run one management command in a process of its own and time it from its call, after Django's start-up.

Usage: python bench/step.py COMMAND [ARGUMENTS ...]. The last line printed is
JSON: the command's seconds and the process's peak resident memory in MB.
A Celery worker starts Django once and then runs imports and
recomputations, so the start-up is not part of what they cost. Nor are the
modules that the command imports: a worker imports each module once in its
life, on the first task that needs it.
"""

import io
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.core.management import call_command, get_commands, load_command_class  # noqa: E402
from django.db import connection  # noqa: E402

# A worker's connection is open before its task starts, and its modules are imported by earlier tasks.
connection.ensure_connection()
name, *arguments = sys.argv[1:]
command = load_command_class(get_commands()[name], name)
started = time.perf_counter()
call_command(command, *arguments, stdout=io.StringIO(), stderr=io.StringIO())
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))
