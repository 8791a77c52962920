"""Shared test fixtures, and the hypothesis profiles.

``ci`` (the default, and always under ``CI=true``): derandomised, so one run of the README test command
equals the next and CI never fails by chance; no example database, so a developer's saved failures do
not change what runs. ``thorough``: randomised and longer, to hunt for new failures:
``.venv/bin/python -m pytest --hypothesis-profile=thorough tests/reliability tests/sensors``.
"""

import os

from hypothesis import HealthCheck, settings

# parent "default": hypothesis's own settings, not the CI profile it loads by itself when $CI is set
settings.register_profile("ci", settings.get_profile("default"), derandomize=True, database=None, print_blob=True,
                          deadline=None)
settings.register_profile("thorough", settings.get_profile("default"), derandomize=False, max_examples=2000,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") == "true" else os.environ.get("HYPOTHESIS_PROFILE", "ci"))
