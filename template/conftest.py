"""Loaded by pytest before the tests import anything of the app: the tests run
without this machine's `.env` and without its environment variables for the
app's settings, so what a developer configures never changes a result. A test
that needs a setting passes it to Settings() or sets the variable itself."""

import os

from app.core.config import Settings

Settings.model_config["env_file"] = None
for name in list(os.environ):
    # Settings reads its variables in any case.
    if name.lower() in Settings.model_fields:
        del os.environ[name]
