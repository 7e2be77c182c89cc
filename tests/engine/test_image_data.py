"""Image data: the digits as 8 × 8 × 1 images, and `stripes`, whose class is in the spatial
structure of its images and in no single pixel. (Determinism, shapes and the split of every
built-in set are in test_data.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from vgsim.engine.data import dataset_shape, input_shape, load_dataset


def test_digits_as_images_are_the_same_pixels_row_by_row():
    flat = load_dataset({"name": "digits"})
    image = load_dataset({"name": "digits", "shape": "image"})
    assert flat.input_shape == (64,) and image.input_shape == (8, 8, 1)
    assert image.X_train.tobytes() == flat.X_train.tobytes()
    assert image.feature_names[9] == "pixel_1_1"
    assert dataset_shape({"name": "digits", "shape": "image"}) == (64, 10, "classification")
    assert input_shape({"name": "digits", "shape": "image"}, 64) == (8, 8, 1)
    assert input_shape({"name": "spiral"}, 2) == (2,)


def _stripes(**params) -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset({"name": "stripes", **params})
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    side = ds.input_shape[0]
    return X.reshape(len(X), side, side), y


def test_stripes_are_balanced_images_in_the_unit_range():
    ds = load_dataset({"name": "stripes", "side": 12, "samples": 400})
    assert ds.input_shape == (12, 12, 1) and ds.n_features == 144 and ds.n_classes == 4
    X, y = _stripes(side=12, samples=400)
    assert X.min() >= 0 and X.max() <= 1
    assert np.bincount(y).tolist() == [100] * 4
    assert load_dataset({"name": "stripes", "shape": "flat"}).input_shape == (256,)


def test_stripes_classes_share_one_mean_image():
    """No pixel, and no fixed weighting of the pixels, tells the classes apart on average."""
    X, y = _stripes(samples=4000)
    means = np.stack([X[y == c].mean(axis=0) for c in range(4)])
    assert np.abs(means - X.mean(axis=0)).max() < 0.06  # pixels vary by ~0.35 within a class
    assert X.std() > 0.3


@pytest.mark.parametrize(("label", "along"), [(0, (0, 1)), (1, (1, 0)), (2, (1, -1)), (3, (1, 1))])
def test_stripes_run_in_the_direction_of_their_class(label, along):
    """Neighbours along a class's stripes are alike (high correlation); across them, not."""
    X, y = _stripes(samples=400, noise=0.0)
    imgs = X[y == label] - 0.5

    def corr(dr: int, dc: int) -> float:
        a = imgs[
            :, max(0, -dr) : imgs.shape[1] - max(0, dr), max(0, -dc) : imgs.shape[2] - max(0, dc)
        ]
        b = imgs[:, max(0, dr) :, max(0, dc) :][:, : a.shape[1], : a.shape[2]]
        return float((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean()))

    steps = [(0, 1), (1, 0), (1, 1), (1, -1)]
    along_corr = corr(*along)
    assert along_corr > 0.99
    for step in steps:
        if step != along:
            assert corr(*step) < along_corr - 0.2, (step, corr(*step))
