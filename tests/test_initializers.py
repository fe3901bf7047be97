import numpy as np
import pytest

from fastnn import initializers


@pytest.mark.parametrize("name, std", [
    ("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(1 / 400)), ("glorot", np.sqrt(2 / 700)),
    ("he_uniform", np.sqrt(2 / 400)), ("xavier_uniform", np.sqrt(1 / 400)),
    ("glorot_uniform", np.sqrt(2 / 700)),
])
def test_scales(name, std):
    W = initializers.get(name)((400, 300), np.random.default_rng(0), np.float64)
    assert W.shape == (400, 300)
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 0.05 * std
    if name.endswith("uniform"):
        assert np.abs(W).max() <= np.sqrt(3) * std


def test_zeros_random_normal_objects_and_callables():
    rng = np.random.default_rng(0)
    assert not initializers.get("zeros")((3, 4), rng).any()
    W = initializers.RandomNormal(0.01)((500, 500), rng)
    assert W.std() == pytest.approx(0.01, rel=0.02)
    custom = initializers.get(lambda shape, rng, dtype: np.full(shape, 0.5, dtype))
    assert (custom((2, 2), rng, np.float32) == 0.5).all()
    he = initializers.He()
    assert initializers.get(he) is he
    assert initializers.get(he.get_config()).std(8, 1) == he.std(8, 1)
    with pytest.raises(ValueError, match="unknown initializer"):
        initializers.get("orthogonal")
    with pytest.raises(ValueError, match="scale"):
        initializers.RandomNormal(-1)
