"""Hypothesis profiles for tests/test_properties.py.

"ci" is the default, so a plain `pytest` (and CI) runs a bounded, reproducible number of
examples: derandomize makes every run draw the same examples, so a failure in CI fails again
on a laptop. "thorough" draws fresh random examples, ten times as many; run it by hand with
`pytest tests/test_properties.py --hypothesis-profile=thorough`.
"""

from hypothesis import HealthCheck, settings

# Large arrays and the NumPy listings make some examples slower than hypothesis likes; time
# is bounded by max_examples instead of per-example deadlines (which flake on 2 shared cores).
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("thorough", max_examples=1500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile("ci")
