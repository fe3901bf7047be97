"""Restructuring the training code changes no result: representative runs
(every layer, optimizer and schedule, callbacks, rollback on divergence,
augmentation, save and resume; tests/training_runs.py) give the digests
recorded before the change, bit for bit."""
import pytest

import training_runs


def test_training_runs_are_bit_identical_to_the_recorded_ones():
    expected = training_runs.stored().get(training_runs.environment())
    if expected is None:
        pytest.skip(f"no digests recorded for this environment ({training_runs.environment()}): "
                    f"they depend on the BLAS and the CPU; record them with "
                    f"`python tests/training_runs.py --record` on the code before a change")
    got = training_runs.digests()
    assert got == expected, sorted(k for k in expected if got.get(k) != expected[k])
