"""Settings for `make run` and local development: debug on, a fixed dev secret."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-never-use-in-production")

# Serve static files straight from static/ without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
