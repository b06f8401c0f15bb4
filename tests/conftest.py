"""Shared test configuration.

Hypothesis profiles (select with HYPOTHESIS_PROFILE=<name>; `ci` is the default):
- ci:   modest example counts so the whole suite stays fast on a 2-core machine;
- fuzz: many more examples, for the fuzzing figures (run by hand, not in CI).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Generated assessments run through a child-process engine, so examples take milliseconds,
# not microseconds: no deadline, and the too_slow check would only add noise.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("fuzz", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
