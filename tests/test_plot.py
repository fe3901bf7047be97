"""Plots render headless, return Figures and write PNGs."""
import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

import fastnn as fn  # noqa: E402
from fastnn import plot  # noqa: E402
from fastnn.datasets import make_moons  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    X, y = make_moons(200, noise=0.15, seed=0)
    model = fn.Sequential([fn.Dense(16, "relu"), fn.Dense(8, "tanh"), fn.Dense(2, "softmax")],
                          input_dim=2, seed=0)
    h = model.fit(X, y, optimizer=fn.Adam(0.02), epochs=15, batch_size=32, verbose=0,
                  validation_data=(X[:50], y[:50]), record_batch_loss=True,
                  record_grad_norms=True)
    return model, h, X, y


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_curves(trained, tmp_path):
    from matplotlib.figure import Figure
    _, h, _, _ = trained
    fig = plot.plot_learning_curves(h, tmp_path / "curves.png")
    assert isinstance(fig, Figure) and len(fig.axes) >= 2
    assert _is_png(tmp_path / "curves.png")
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), h["loss"])


def test_decision_boundary_and_gradient_norms(trained, tmp_path):
    model, h, X, y = trained
    assert model.evaluate(X, y)["accuracy"] > 0.9
    plot.plot_decision_boundary(model, X, y, tmp_path / "boundary.png", resolution=50)
    assert _is_png(tmp_path / "boundary.png")
    assert set(h.grad_norms) == {"dense_1", "dense_2", "dense_3"}
    assert all(len(v) == 15 and np.all(np.array(v) > 0) for v in h.grad_norms.values())
    plot.plot_gradient_norms(h, tmp_path / "norms.png")
    assert _is_png(tmp_path / "norms.png")


def test_plot_errors():
    with pytest.raises(ValueError, match="gradient norms"):
        plot.plot_gradient_norms(fn.History())
    with pytest.raises(ValueError, match="no 'loss'"):
        plot.plot_learning_curves({"loss": []})
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        plot.plot_decision_boundary(None, np.zeros((3, 3)), np.zeros(3))
