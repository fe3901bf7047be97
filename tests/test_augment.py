import numpy as np
import pytest

import fastnn as fn
from fastnn import augment


def dot_images(k=4, H=9, W=9):
    img = np.zeros((k, H, W))
    img[:, 2, 6] = 1.0
    return img


def test_flip_moves_the_pixel_to_the_mirror_column():
    out = augment.RandomFlip(p=1.0)(dot_images(), np.random.default_rng(0))
    assert np.all(out[:, 2, 2] == 1.0) and out.sum() == 4
    same = augment.RandomFlip(p=0.0)(dot_images(), np.random.default_rng(0))
    np.testing.assert_array_equal(same, dot_images())


def test_translation_and_crop_move_whole_pixels_within_range():
    rng = np.random.default_rng(1)
    for t in (augment.RandomTranslation(2), augment.RandomCrop(2)):
        out = t(dot_images(50), rng)
        ys, xs = np.nonzero(out.sum(axis=0))
        assert out.shape == (50, 9, 9)
        assert ys.min() >= 0 and ys.max() <= 4 and xs.min() >= 4 and xs.max() <= 8
        assert len(set(zip(ys, xs))) > 5            # positions really vary


def test_rotation_by_at_most_180_keeps_mass_near_the_ring():
    rng = np.random.default_rng(2)
    img = dot_images(1)
    out = augment.RandomRotation(180)(np.repeat(img, 20, axis=0), rng)
    cy = cx = 4.0
    r0 = np.hypot(2 - cy, 6 - cx)
    for o in out:
        ys, xs = np.nonzero(o > 0.05)
        assert np.all(np.abs(np.hypot(ys - cy, xs - cx) - r0) < 1.5)
    assert augment.RandomRotation(0)(img, rng) == pytest.approx(img)


def test_channels_compose_and_seeding():
    imgs = np.random.default_rng(0).random((6, 8, 8, 3))
    aug = augment.Compose([augment.RandomFlip(), augment.RandomTranslation(1),
                           augment.RandomRotation(15)])
    a = aug(imgs, np.random.default_rng(5))
    b = aug(imgs, np.random.default_rng(5))
    assert a.shape == imgs.shape
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="images"):
        aug(imgs[0, 0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_shift"):
        augment.RandomTranslation(-1)


def test_fit_applies_augmentation_to_training_batches_only():
    rng = np.random.default_rng(0)
    X = rng.random((64, 6, 6)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    seen = []

    class Spy(augment.Augmentation):
        def __call__(self, images, rng):
            seen.append(images.shape)
            return images[:, ::-1]

    model = fn.Sequential([fn.Dense(8), fn.Dense(2, "softmax")], seed=0)
    model.fit(X, y, epochs=1, batch_size=16, augment=Spy(), verbose=0,
              validation_data=(X[:8], y[:8]))
    assert seen == [(16, 6, 6)] * 4
    assert model.input_dim == 36
    assert model.predict(X).shape == (64,)
    flat = fn.Sequential([fn.Dense(8), fn.Dense(2, "softmax")], input_dim=36, seed=0)
    flat.fit(X.reshape(64, 36), y, epochs=1, augment=Spy(), image_shape=(6, 6), verbose=0)
    with pytest.raises(ValueError, match="augment needs images"):
        flat.fit(X.reshape(64, 36), y, augment=Spy(), verbose=0)
