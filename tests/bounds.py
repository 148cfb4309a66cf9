"""Every time bound in the tests, scaled by one documented factor.

A bound says how long a healthy run may take on the CI machine (2 cores) with both cores busy beside
the tests; it is there to catch a stall (a 0.02 s step taking 8 s), never to time an idle machine.
On a slower host, `EXPLAINER_TEST_TIME_FACTOR=3 python -m pytest` triples every bound at once.
"""

from __future__ import annotations

import os

TIME_FACTOR = float(os.environ.get("EXPLAINER_TEST_TIME_FACTOR", "1"))


def within(seconds: float) -> float:
    """A bound in seconds, scaled by EXPLAINER_TEST_TIME_FACTOR."""
    return seconds * TIME_FACTOR


def bound_ms(seconds: float) -> int:
    """The same bound in Playwright's milliseconds."""
    return int(within(seconds) * 1000)
