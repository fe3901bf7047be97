"""Data augmentation for images: random flips, translations, crops and small
rotations, composable and seeded, applied to every mini-batch by
``fit(..., augment=...)``.

    aug = fn.augment.Compose([fn.augment.RandomFlip(), fn.augment.RandomTranslation(2),
                              fn.augment.RandomRotation(10)])
    model.fit(X_images, y, augment=aug)      # X_images (m, H, W) or (m, H, W, C)

Each transform maps a batch of images (k, H, W) or (k, H, W, C) to a new
batch of the same shape and draws its randomness from the generator it is
given (fit passes one derived from the model's seed), one draw per image.
Pixels that come from outside the image are ``fill`` (0).  Labels are not
changed: use only transforms that keep the label true (a flipped "2" is no
digit).
"""

import numpy as np

from fastnn import checks

__all__ = ["Augmentation", "RandomFlip", "RandomTranslation", "RandomCrop", "RandomRotation",
           "Compose"]


def _check_images(images, func):
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"{func}: images must be (k, H, W) or (k, H, W, C); got shape {images.shape}")
    return images


class Augmentation:
    """Base class: ``__call__(images, rng) -> images``."""

    def __call__(self, images, rng):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class RandomFlip(Augmentation):
    """Mirror each image left-right (and/or top-bottom) with probability p."""

    def __init__(self, horizontal=True, vertical=False, p=0.5):
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise ValueError(f"RandomFlip: p must be a probability in [0, 1]; got {p!r}")
        if not (horizontal or vertical):
            raise ValueError("RandomFlip: flip horizontally, vertically or both")
        self.horizontal, self.vertical, self.p = bool(horizontal), bool(vertical), float(p)

    def __call__(self, images, rng):
        out = np.array(_check_images(images, "RandomFlip"), copy=True)
        k = out.shape[0]
        if self.horizontal:
            flip = rng.random(k) < self.p
            out[flip] = out[flip][:, :, ::-1]
        if self.vertical:
            flip = rng.random(k) < self.p
            out[flip] = out[flip][:, ::-1]
        return out


def _shift(images, dy, dx, fill):
    """Each image i moved by (dy[i], dx[i]) whole pixels, uncovered pixels = fill."""
    k, H, W = images.shape[:3]
    out = np.full_like(images, fill)
    for i in range(k):
        y0, x0 = int(dy[i]), int(dx[i])
        src_y = slice(max(0, -y0), min(H, H - y0))
        src_x = slice(max(0, -x0), min(W, W - x0))
        dst_y = slice(max(0, y0), min(H, H + y0))
        dst_x = slice(max(0, x0), min(W, W + x0))
        out[i, dst_y, dst_x] = images[i, src_y, src_x]
    return out


class RandomTranslation(Augmentation):
    """Shift each image by a whole number of pixels drawn uniformly from
    [-max_shift, max_shift] in each direction."""

    def __init__(self, max_shift=2, fill=0.0):
        max_shift = checks.check_int(max_shift, "max_shift", "RandomTranslation", 0, what="pixels")
        self.max_shift, self.fill = max_shift, fill

    def __call__(self, images, rng):
        images = _check_images(images, "RandomTranslation")
        k = images.shape[0]
        dy = rng.integers(-self.max_shift, self.max_shift + 1, k)
        dx = rng.integers(-self.max_shift, self.max_shift + 1, k)
        return _shift(images, dy, dx, self.fill)


class RandomCrop(Augmentation):
    """Pad each image by ``padding`` pixels of ``fill`` on every side and cut
    a random window of the original size back out."""

    def __init__(self, padding=2, fill=0.0):
        padding = checks.check_int(padding, "padding", "RandomCrop", 0)
        self.padding, self.fill = padding, fill

    def __call__(self, images, rng):
        images = _check_images(images, "RandomCrop")
        k, H, W = images.shape[:3]
        p = self.padding
        pad = [(0, 0), (p, p), (p, p)] + [(0, 0)] * (images.ndim - 3)
        padded = np.pad(images, pad, constant_values=self.fill)
        top = rng.integers(0, 2 * p + 1, k)
        left = rng.integers(0, 2 * p + 1, k)
        return np.stack([padded[i, top[i]:top[i] + H, left[i]:left[i] + W] for i in range(k)])


class RandomRotation(Augmentation):
    """Rotate each image about its centre by an angle drawn uniformly from
    [-max_degrees, max_degrees], with bilinear interpolation."""

    def __init__(self, max_degrees=10.0, fill=0.0):
        if not (isinstance(max_degrees, (int, float)) and 0 <= max_degrees <= 180):
            raise ValueError(f"RandomRotation: max_degrees must be in [0, 180]; got {max_degrees!r}")
        self.max_degrees, self.fill = float(max_degrees), fill

    def __call__(self, images, rng):
        images = _check_images(images, "RandomRotation")
        k, H, W = images.shape[:3]
        angles = np.deg2rad(rng.uniform(-self.max_degrees, self.max_degrees, k))
        cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
        yy, xx = np.meshgrid(np.arange(H) - cy, np.arange(W) - cx, indexing="ij")
        cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
        # inverse mapping: where in the source does each output pixel come from
        sy = cos * yy - sin * xx + cy
        sx = sin * yy + cos * xx + cx
        y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
        wy, wx = sy - y0, sx - x0
        if images.ndim == 4:
            wy, wx = wy[..., None], wx[..., None]
        idx = np.arange(k)[:, None, None]
        out = 0.0
        for oy, ox, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                               (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
            py, px = y0 + oy, x0 + ox
            inside = (py >= 0) & (py < H) & (px >= 0) & (px < W)
            vals = images[idx, np.clip(py, 0, H - 1), np.clip(px, 0, W - 1)]
            mask = inside[..., None] if images.ndim == 4 else inside
            out = out + weight * np.where(mask, vals, self.fill)
        return out.astype(images.dtype, copy=False)


class Compose(Augmentation):
    """Apply transforms in order."""

    def __init__(self, transforms):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable; got {t!r}")
        self.transforms = transforms

    def __call__(self, images, rng):
        for t in self.transforms:
            images = t(images, rng)
        return images
