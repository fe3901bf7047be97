"""What fit promises around failures: a rejected call changes nothing, a
diverging run is rolled back whole, and objects that hold a model's state
(layers, optimizers) are never silently shared between models."""
import warnings

import numpy as np
import pytest

import fastnn as fn


def blobs(m=256, n=10, k=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, n)) * 3
    y = rng.integers(0, k, m)
    X = (centers[y] + rng.standard_normal((m, n))) * scale
    return X.astype(np.float32), y


def mlp(bn=False, keep_prob=None, n=10, k=3, seed=0, input_dim=True):
    layers = [fn.Dense(32, "relu")]
    if bn:
        layers.append(fn.BatchNorm())
    if keep_prob is not None:
        layers.append(fn.Dropout(keep_prob))
    layers.append(fn.Dense(k, "softmax"))
    return fn.Sequential(layers, input_dim=n if input_dim else None, seed=seed)


def state_of(model):
    """Everything fit may change, as comparable values."""
    opt = model.optimizer
    return {
        "weights": [w.copy() for w in model.get_weights()] if model.params is not None else None,
        "stats": [a.copy() for layer in model.layers for a in layer.state_arrays().values()],
        "epoch": model.epoch, "step": model.step, "input_dim": model.input_dim,
        "optimizer": None if opt is None else (id(opt), opt.t, opt.epoch,
                                               {k: None if v is None else [a.copy() for a in v]
                                                for k, v in opt.state.items()}),
        "rng": None if model.shuffle_rng is None else model.shuffle_rng.bit_generator.state,
    }


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if key in ("weights", "stats"):
            assert (a[key] is None) == (b[key] is None), key
            for x, y in zip(a[key] or [], b[key] or []):
                np.testing.assert_array_equal(x, y, err_msg=key)
        elif key == "optimizer" and a[key] is not None:
            assert a[key][:3] == b[key][:3]
            for name in a[key][3]:
                for x, y in zip(a[key][3][name] or [], b[key][3][name] or []):
                    np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert a[key] == b[key], key


# ------------------------------------------------------------ divergence

def test_overflowing_gradients_with_a_finite_cost_leave_no_nan_weights():
    # The cost is summed in double and stays finite (~1e56) while the float32
    # gradients overflow, in the last (only) step of an epoch: the check at
    # the end of the epoch rolls it back.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3)).astype(np.float32)
    y = X @ np.float32([1, 2, 3]) * 1e3
    model = fn.Sequential([fn.Dense(8, "relu"), fn.Dense(1, "linear")], input_dim=3, seed=0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        h = model.fit(X, y, optimizer=fn.SGD(10.0), epochs=20, batch_size=None, verbose=0)
    assert h.stop_reason and "diverged" in h.stop_reason
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(X[:5])).all()


def test_divergence_rolls_the_whole_epoch_back():
    X, y = blobs(scale=10.0)
    model = mlp()
    model.fit(X, y, optimizer=fn.Momentum(1e-3), epochs=1, batch_size=32, verbose=0)
    before = state_of(model)
    model.optimizer.learning_rate = 1e6
    before["optimizer"] = (before["optimizer"][0], model.optimizer.t, model.optimizer.epoch,
                           before["optimizer"][3])
    with pytest.warns(RuntimeWarning, match="diverged"):
        h = model.fit(X, y, epochs=3, batch_size=32, verbose=0)
    assert "diverged" in h.stop_reason
    assert h.epoch == [] and "loss" not in h          # the rolled-back epoch is not counted
    assert_same_state(state_of(model), before)
    # with a sane rate the next fit re-runs that epoch as a fresh one would
    model.optimizer.learning_rate = 1e-3
    twin = mlp()
    twin.fit(X, y, optimizer=fn.Momentum(1e-3), epochs=2, batch_size=32, verbose=0)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_divergence_callbacks_do_not_see_the_rolled_back_epoch(tmp_path):
    seen = []

    class Record(fn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(epoch)

    X, y = blobs(scale=10.0)
    model = mlp()
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(X, y, optimizer=fn.SGD(1e8), epochs=3, batch_size=32, verbose=0,
                  callbacks=[Record(), fn.ModelCheckpoint(tmp_path / "m.fnn")])
    assert seen == [] and not (tmp_path / "m.fnn").exists()
    assert model.epoch == 0


def test_overflowing_running_statistics_are_a_divergence():
    # Huge but finite weights: the cost stays finite (BatchNorm normalizes)
    # while the batch variance overflows into running_var.
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((128, 10)) * 10).astype(np.float32)
    y = rng.integers(0, 3, 128)
    model = fn.Sequential([fn.Dense(8, "relu"), fn.BatchNorm(), fn.Dense(3, "softmax")],
                          input_dim=10, seed=0)
    ws = model.get_weights()
    ws[0] = ws[0] * np.float32(1e19)
    model.set_weights(ws)
    before = state_of(model)
    with pytest.warns(RuntimeWarning, match="running_var overflowed"):
        h = model.fit(X, y, optimizer=fn.SGD(1e-3), epochs=2, batch_size=32, verbose=0)
    assert "diverged" in h.stop_reason
    for a, b in zip(state_of(model)["stats"], before["stats"]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_does_not_undo_a_rollback():
    X, y = blobs(scale=10.0)
    starts = {}

    class Record(fn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs):
            starts[epoch] = state_of(self.model)

    rate = fn.callbacks.LearningRateScheduler(lambda e: 1e-3 if e < 3 else 1e9)
    stop = fn.EarlyStopping(monitor="loss", min_delta=1e9, patience=100, restore_best=True)
    model = mlp(bn=True)
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(X, y, optimizer=fn.Momentum(1e-3), epochs=6, batch_size=32, verbose=0,
                  callbacks=[Record(), rate, stop])
    assert model.epoch == 3 and stop.best_epoch == 0
    after = state_of(model)
    for key in ("weights", "stats"):
        for a, b in zip(after[key], starts[3][key]):
            np.testing.assert_array_equal(a, b)       # the start of the diverged epoch


def test_a_rolled_back_optimizer_still_belongs_to_its_model():
    X, y = blobs(scale=10.0)
    model = mlp()
    opt = fn.SGD(1e8)
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(X, y, optimizer=opt, epochs=2, batch_size=32, verbose=0)
    with pytest.raises(ValueError, match="already holds the state of another model"):
        mlp(seed=1).fit(X, y, optimizer=opt, verbose=0)


def test_batch_losses_of_a_rolled_back_epoch_are_dropped():
    X, y = blobs(scale=10.0)
    model = mlp()
    model.fit(X, y, optimizer=fn.SGD(1e-3), epochs=1, batch_size=32, verbose=0)
    model.optimizer.learning_rate = 1e8
    with pytest.warns(RuntimeWarning, match="diverged"):
        h = model.fit(X, y, epochs=2, batch_size=32, verbose=0, record_batch_loss=True)
    assert h.batch_loss == []


# ------------------------------------------------------------ a rejected fit changes nothing

def _rejected_fits(X, y):
    """(description, fit kwargs) that must raise before any work."""
    Xv, yv = blobs(m=40, seed=1)
    return [
        ("monitor not logged", dict(callbacks=[fn.EarlyStopping()])),
        ("checkpoint folder missing", dict(callbacks=[fn.ModelCheckpoint("/no/such/dir/m.fnn")])),
        ("bad validation labels", dict(validation_data=(Xv, yv + 5))),
        ("validation width", dict(validation_data=(Xv[:, :4], yv))),
        ("BatchNorm with batches of 1", dict(batch_size=1, optimizer=fn.SGD(0.1))),
        ("y beyond float32", dict(y=np.full(len(y), 1e300), loss="mse")),
        ("optimizer of another model", dict(optimizer="used elsewhere")),
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_rejected_fit_leaves_the_model_as_it_was(case):
    X, y = blobs()
    model = mlp(bn=True)
    model.fit(X, y, optimizer=fn.Adam(1e-2), epochs=2, batch_size=32, verbose=0)
    what, kwargs = _rejected_fits(X, y)[case]
    if kwargs.get("optimizer") == "used elsewhere":
        other = mlp(bn=True, seed=3)
        kwargs["optimizer"] = fn.Adam(1e-2)
        other.fit(X, y, optimizer=kwargs["optimizer"], epochs=1, verbose=0)
    if kwargs.get("loss") == "mse":    # a linear output for the mse case
        model = fn.Sequential([fn.Dense(8, "relu"), fn.Dense(1, "linear")], input_dim=10, seed=0)
        model.fit(X, y.astype(np.float64), epochs=1, verbose=0)
    before = state_of(model)
    call = dict(x=X, y=y, epochs=2, batch_size=32, verbose=0)
    call.update(kwargs)
    with pytest.raises((ValueError, FileNotFoundError)):
        model.fit(call.pop("x"), call.pop("y"), **call)
    assert_same_state(state_of(model), before)


def test_a_failed_first_fit_does_not_fix_the_input_width():
    X, y = blobs(m=200)
    model = mlp(input_dim=False)
    with pytest.raises(ValueError, match="rows but y has"):
        model.fit(X.T, y, verbose=0)                  # the course's (n_x, m) layout
    assert model.input_dim is None and model.params is None
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((200, 7), np.nan, np.float32), y, verbose=0)
    assert model.input_dim is None
    model.fit(X, y, epochs=1, verbose=0)
    assert model.input_dim == 10


def test_the_error_names_the_validation_labels():
    X, y = blobs()
    Xv, yv = blobs(m=40, seed=1)
    with pytest.raises(ValueError, match=r"fit \(validation_data\).*labels"):
        mlp().fit(X, y, validation_data=(Xv, yv + 5), verbose=0)


def test_evaluate_errors_name_evaluate():
    X, y = blobs()
    model = mlp()
    with pytest.raises(ValueError, match="^evaluate: loss 'mse' needs a linear"):
        model.evaluate(X, y, loss="mse")
    with pytest.raises(TypeError, match="^fit: loss must be a name"):
        model.fit(X, y, loss=["categorical_crossentropy"], verbose=0)


def test_a_single_callback_need_not_be_in_a_list():
    X, y = blobs()
    Xv, yv = blobs(m=40, seed=1)
    stop = fn.EarlyStopping(patience=0)
    mlp().fit(X, y, validation_data=(Xv, yv), epochs=30, verbose=0, callbacks=stop)
    assert stop.best_epoch is not None


# ------------------------------------------------------------ targets, workspaces

def test_labels_then_one_hot_then_labels():
    X, y = blobs()
    model = mlp()
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    model.fit(X, np.eye(3, dtype=np.float32)[y], epochs=1, batch_size=32, verbose=0)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    twin = mlp()
    twin.fit(X, y, epochs=3, batch_size=32, verbose=0)   # one-hot rows are the same targets
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_dropped_one_row_batch_is_announced():
    X, y = blobs(m=65)
    with pytest.warns(UserWarning, match="last batch of one row"):
        mlp(bn=True).fit(X, y, batch_size=32, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlp(bn=True).fit(X[:64], y[:64], batch_size=32, verbose=0)


# ------------------------------------------------------------ sharing

def test_a_layer_serves_one_model():
    d1, d2 = fn.Dense(16, "relu"), fn.Dense(3, "softmax")
    fn.Sequential([d1, d2], input_dim=10, seed=0)
    with pytest.raises(ValueError, match="already belongs to another model"):
        fn.Sequential([d1, fn.Dense(3, "softmax")], input_dim=10, seed=1)


def test_layers_of_a_model_that_failed_to_build_stay_usable():
    dense, bn, out = fn.Dense(16, "relu"), fn.BatchNorm(), fn.Dense(3, "softmax")
    with pytest.raises(ValueError, match="must come right after a hidden Dense"):
        fn.Sequential([bn, dense, out], input_dim=10)
    assert dense.name is None and dense.use_bias
    model = fn.Sequential([dense, out], input_dim=10, seed=0)
    assert model.params.names == ["dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b"]


def test_an_optimizer_serves_one_model():
    X, y = blobs()
    opt = fn.Adam(fn.schedules.ExponentialDecay(1e-2, 0.5))
    mlp().fit(X, y, optimizer=opt, epochs=3, verbose=0)
    with pytest.raises(ValueError, match="already holds the state of another model"):
        mlp(seed=1).fit(X, y, optimizer=opt, epochs=3, verbose=0)


@pytest.mark.parametrize("built", [True, False])
def test_loaded_optimizer_state_of_another_layout_is_refused_up_front(built):
    X, y = blobs()
    big = fn.Sequential([fn.Dense(64, "relu"), fn.Dense(3, "softmax")], input_dim=10, seed=0)
    big.fit(X, y, optimizer=fn.Adam(1e-2), epochs=1, verbose=0)
    opt = fn.optim.from_state_dict(big.optimizer.state_dict())     # free copies
    model = mlp(input_dim=built)
    before = state_of(model)
    with pytest.raises(ValueError, match="belongs to parameters of shapes"):
        model.fit(X, y, optimizer=opt, epochs=1, verbose=0)
    assert_same_state(state_of(model), before)
    assert (model.params is None) == (not built)


def _trained_and_loaded(path):
    """(X, y, a model trained one epoch with Adam, its copy saved and loaded)."""
    X, y = blobs()
    model = mlp()
    model.fit(X, y, optimizer=fn.Adam(1e-2), epochs=1, verbose=0)
    model.save(path)
    return X, y, model, fn.load_model(path)


def test_the_models_own_optimizer_is_checked_too(tmp_path):
    X, y, _, loaded = _trained_and_loaded(tmp_path / "m.fnn")
    mlp().fit(X, y, optimizer=loaded.optimizer, epochs=1, verbose=0)   # now that model's
    with pytest.raises(ValueError, match="already holds the state of another model"):
        loaded.fit(X, y, epochs=1, verbose=0)


def test_checkpoint_through_a_symlink_into_a_missing_folder_fails_up_front(tmp_path):
    link = tmp_path / "ckpt.fnn"
    link.symlink_to(tmp_path / "gone" / "m.fnn")
    X, y = blobs()
    model = mlp()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[fn.ModelCheckpoint(link)])
    assert model.epoch == 0


def test_a_loaded_optimizer_may_resume_in_a_new_model(tmp_path):
    X, y, model, loaded = _trained_and_loaded(tmp_path / "m.fnn")
    clone = mlp()
    clone.set_weights(loaded.get_weights())
    # shuffle=False: the clone's shuffling starts afresh, the optimizer state does not
    clone.fit(X, y, optimizer=loaded.optimizer, epochs=1, verbose=0, shuffle=False)
    model.fit(X, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ training-mode calls

def test_training_mode_call_applies_the_output_activation_once():
    X, _ = blobs(m=20)
    model = mlp()
    expected = model.predict_proba(X)
    np.testing.assert_allclose(model.train()(X), expected, rtol=1e-6)
    model.eval()


def test_training_mode_call_of_a_leaky_relu_output_keeps_its_slope():
    X, _ = blobs(m=20)
    model = fn.Sequential([fn.Dense(16, "relu"), fn.Dense(2, "leaky_relu", negative_slope=0.3)],
                          input_dim=10, seed=0)
    expected = model.eval()(X)
    np.testing.assert_allclose(model.train()(X), expected, rtol=1e-6, atol=1e-7)
    model.eval()


def test_training_mode_calls_draw_new_dropout_masks():
    X, _ = blobs(m=50)
    model = mlp(keep_prob=0.5)
    model.train()
    first, second = model(X), model(X)
    assert not np.array_equal(first, second)
    again = mlp(keep_prob=0.5).train()
    np.testing.assert_array_equal(again(X), first)     # reproducible from the seed


# ------------------------------------------------------------ weights and layer arguments

def test_set_weights_rejects_values_beyond_the_model_dtype():
    model = mlp()
    ws = model.get_weights()
    ws[0] = np.full(ws[0].shape, 1e300)
    with pytest.raises(ValueError, match="finite"):
        model.set_weights(ws)


def test_numpy_scalars_are_accepted_and_bools_are_not():
    assert fn.Dropout(np.float32(0.5)).keep_prob == 0.5
    assert fn.BatchNorm(momentum=np.float32(0.5)).momentum == 0.5
    for bad in (lambda: fn.BatchNorm(momentum=True), lambda: fn.Dropout(True),
                lambda: fn.BatchNorm(eps=True)):
        with pytest.raises(ValueError):
            bad()
