"""Behaviour of vgsim.engine.data: built-in sets, the shipped digits file, and student CSVs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from vgsim.engine import data
from vgsim.engine.data import DATASETS, Dataset, check_data_spec, dataset_shape, load_dataset
from vgsim.engine.errors import DataError, VgsimError

BUILTIN = [n for n in DATASETS if n != "csv"]
REPO = Path(__file__).resolve().parents[2]


def arrays(ds: Dataset) -> list[np.ndarray]:
    return [ds.X_train, ds.y_train, ds.X_test, ds.y_test]


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_csv(path: Path | str, base_dir: Path | None = None, **params) -> Dataset:
    return load_dataset({"name": "csv", "path": str(path), **params}, base_dir=base_dir)


def csv_error(tmp_path: Path, text: str, **params) -> str:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as exc:
        load_csv(path, **params)
    return str(exc.value)


# ---- built-in data sets -------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN)
def test_same_spec_is_bit_identical_and_other_seed_differs(name: str) -> None:
    a, b = load_dataset({"name": name}), load_dataset({"name": name, "seed": 0})
    for x, y in zip(arrays(a), arrays(b), strict=True):
        assert x.tobytes() == y.tobytes()
    c = load_dataset({"name": name, "seed": 1})
    assert a.X_train.tobytes() != c.X_train.tobytes()


@pytest.mark.parametrize("name", BUILTIN)
def test_shapes_dtypes_contiguity_and_split(name: str) -> None:
    ds = load_dataset({"name": name})
    n_features, n_targets, task = dataset_shape({"name": name})
    assert (ds.n_features, ds.n_targets, ds.task) == (n_features, n_targets, task)
    assert ds.task == DATASETS[name]["task"] and ds.name == name
    assert len(ds.feature_names) == ds.n_features
    for a in arrays(ds):
        assert a.flags.c_contiguous and np.all(np.isfinite(a))
    for X, y in [(ds.X_train, ds.y_train), (ds.X_test, ds.y_test)]:
        assert X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == ds.n_features
        assert len(y) == len(X)
        if ds.task == "classification":
            assert y.dtype == np.int64 and y.ndim == 1
            assert y.min() >= 0 and y.max() < ds.n_classes
        else:
            assert y.dtype == np.float64 and y.shape == (len(X), ds.n_targets)
    n = len(ds.X_train) + len(ds.X_test)
    assert n == DATASETS[name]["params"]["samples"]
    assert len(ds.X_test) == round(0.2 * n)


@pytest.mark.parametrize("name", ["spiral", "moons", "circles", "xor", "blobs"])
def test_synthetic_classes_are_balanced(name: str) -> None:
    ds = load_dataset(
        {"name": name, "classes": 4} if "classes" in DATASETS[name]["params"] else {"name": name}
    )
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]))
    assert len(counts) == ds.n_classes and len(set(counts)) == 1
    # the split is shuffled: every class reaches the test set, train is not sorted by class
    assert set(ds.y_test.tolist()) == set(range(ds.n_classes))
    assert np.any(np.diff(ds.y_train) < 0)
    assert np.abs(np.concatenate([ds.X_train, ds.X_test])).max() < 2.5  # roughly [-1, 1]


def test_samples_rounded_down_to_equal_classes_and_test_fraction() -> None:
    ds = load_dataset({"name": "spiral", "classes": 4, "samples": 103, "test_fraction": 0.5})
    assert len(ds.y_train) + len(ds.y_test) == 100 and len(ds.y_test) == 50
    tiny = load_dataset({"name": "moons", "samples": 4, "test_fraction": 0.01})
    assert len(tiny.y_test) == 1 and len(tiny.y_train) == 3  # never an empty split


def test_xor_labels_follow_quadrants_without_noise() -> None:
    ds = load_dataset({"name": "xor", "noise": 0.0})
    X, y = ds.X_train, ds.y_train
    assert np.array_equal(y, (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(np.int64))


def test_sine_targets_follow_sin_without_noise() -> None:
    ds = load_dataset({"name": "sine", "noise": 0.0, "periods": 2.0})
    assert ds.X_train.min() >= -1 and ds.X_train.max() <= 1
    np.testing.assert_allclose(ds.y_train[:, 0], np.sin(2 * np.pi * ds.X_train[:, 0]))


def test_digits_shipped_file_has_real_data() -> None:
    assert data.DIGITS_PATH == REPO / "resources" / "data" / "digits.csv.gz"
    assert data.DIGITS_PATH.is_file()
    assert (REPO / "resources" / "data" / "README.md").is_file()
    ds = load_dataset({"name": "digits"})
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    assert X.shape == (1797, 64) and ds.n_classes == 10
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(X * 16)) <= set(range(17))  # pixel counts 0..16
    assert np.array_equal(np.unique(y), np.arange(10))
    assert len(load_dataset({"name": "digits", "samples": 100}).y_train) == 80


def test_digits_missing_file_is_clear(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "digits.csv.gz"
    monkeypatch.setattr(data, "DIGITS_PATH", missing)
    with pytest.raises(DataError, match="missing") as exc:
        load_dataset({"name": "digits"})
    assert str(missing) in str(exc.value)


def test_digits_damaged_file_is_clear(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "digits.csv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("1,2,3\n")
    monkeypatch.setattr(data, "DIGITS_PATH", bad)
    with pytest.raises(DataError, match="65 columns"):
        load_dataset({"name": "digits"})


# ---- CSV -------------------------------------------------------------------------------------

GOOD = "a,label,b\n1,cat,10\n2,dog,20\n3,cat,30\n4,dog,40\n5,cat,50\n"


def test_csv_target_by_name_and_index_give_same_data(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    by_name = load_csv(path, target="label", standardize=False, test_fraction=0.4)
    by_index = load_csv(path, target=1, standardize=False, test_fraction=0.4)
    for x, y in zip(arrays(by_name), arrays(by_index), strict=True):
        assert np.array_equal(x, y)
    ds = by_name
    assert ds.feature_names == ["a", "b"] and ds.n_classes == 2 and ds.n_targets == 2
    assert len(ds.y_train) == 3 and len(ds.y_test) == 2
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_array_equal(X[:, 1], 10 * X[:, 0])  # rows stay intact through the shuffle
    np.testing.assert_array_equal(y, (X[:, 0] % 2 == 0).astype(np.int64))  # cat=0, dog=1 sorted
    assert dataset_shape({"name": "csv", "path": str(path), "target": "label"}) == (
        2,
        2,
        "classification",
    )


def test_csv_default_target_is_last_column_without_header(tmp_path: Path) -> None:
    path = write(tmp_path, "0.5,2\n1.5,0\n2.5,1\n3.5,2\n")
    ds = load_csv(path, header=False, standardize=False, test_fraction=0.25)
    assert ds.feature_names == ["col0"] and ds.n_classes == 3
    pairs = {
        (x, y)
        for x, y in zip(
            np.r_[ds.X_train[:, 0], ds.X_test[:, 0]], np.r_[ds.y_train, ds.y_test], strict=True
        )
    }
    assert pairs == {(0.5, 2), (1.5, 0), (2.5, 1), (3.5, 2)}


def test_csv_standardize_uses_train_statistics(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i * i},7,{i % 2}\n" for i in range(20))
    ds = load_csv(write(tmp_path, "x,x2,const,y\n" + rows))
    np.testing.assert_allclose(ds.X_train[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train[:, :2].std(axis=0), 1)
    assert np.all(ds.X_train[:, 2] == 0)  # constant column: no division by zero
    assert abs(ds.X_test[:, 0].mean()) > 1e-9  # test set is not re-centred on itself


def test_csv_regression(tmp_path: Path) -> None:
    ds = load_csv(
        write(tmp_path, "x,y\n1,0.5\n2,1.5\n3,2.5\n"), task="regression", standardize=False
    )
    assert ds.task == "regression" and ds.n_classes == 0 and ds.n_targets == 1
    assert ds.y_train.dtype == np.float64 and ds.y_train.shape == (2, 1)
    np.testing.assert_array_equal(ds.y_train[:, 0], ds.X_train[:, 0] - 0.5)


def test_csv_relative_path_resolves_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, GOOD, "sub/d.csv")
    ds = load_csv("sub/d.csv", base_dir=tmp_path, target="label")
    assert ds.n_classes == 2
    with pytest.raises(DataError) as exc:
        load_csv("sub/d.csv", base_dir=tmp_path / "other", target="label")
    assert str((tmp_path / "other" / "sub" / "d.csv").resolve()) in str(exc.value)


def test_csv_missing_file_names_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as exc:
        load_csv("nope.csv", base_dir=tmp_path)
    assert str((tmp_path / "nope.csv").resolve()) in str(exc.value)


def test_csv_empty_file(tmp_path: Path) -> None:
    assert "no data rows" in csv_error(tmp_path, "")
    assert "no data rows" in csv_error(tmp_path, "a,b,c\n")


def test_csv_non_numeric_feature_names_line_column_and_value(tmp_path: Path) -> None:
    msg = csv_error(tmp_path, "a,b,y\n1,2,0\n3,four,1\n")
    assert "line 3" in msg and "'b'" in msg and "'four'" in msg
    msg = csv_error(tmp_path, "a,b,y\n1,2,0\n3,,1\n")
    assert "line 3" in msg and "''" in msg


def test_csv_target_not_found_lists_columns(tmp_path: Path) -> None:
    msg = csv_error(tmp_path, GOOD, target="species")
    assert "'species'" in msg and "a, label, b" in msg
    assert "a, label, b" in csv_error(tmp_path, GOOD, target=7)


def test_csv_single_class(tmp_path: Path) -> None:
    msg = csv_error(tmp_path, "a,y\n1,3\n2,3\n3,3\n")
    assert "only one class" in msg and "'y'" in msg and "3" in msg


def test_csv_ragged_rows(tmp_path: Path) -> None:
    msg = csv_error(tmp_path, "a,b,y\n1,2,0\n3,1\n")
    assert "line 3" in msg and "2 cells" in msg and "3" in msg


def test_csv_one_column_and_empty_target(tmp_path: Path) -> None:
    assert "at least 2 columns" in csv_error(tmp_path, "a\n1\n2\n")
    msg = csv_error(tmp_path, "a,y\n1,0\n2,\n3,1\n")
    assert "line 3" in msg and "'y'" in msg and "empty" in msg


def test_csv_excel_bom_and_integer_labels_are_remapped(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfx,y\r\n1,5\r\n2,9\r\n3,5\r\n4,9\r\n")
    ds = load_csv(path, target="x", task="regression")  # BOM must not stick to the name "x"
    assert ds.feature_names == ["y"]
    ds = load_csv(path, target="y", standardize=False)
    assert ds.n_classes == 2  # labels 5 and 9 become 0 and 1
    assert set(np.r_[ds.y_train, ds.y_test]) == {0, 1}


def test_csv_bad_targets(tmp_path: Path) -> None:
    msg = csv_error(tmp_path, "a,y\n1,0\n2,0.5\n")
    assert "line 3" in msg and "'0.5'" in msg and "regression" in msg
    msg = csv_error(tmp_path, "a,y\n1,0.1\n2,high\n", task="regression")
    assert "line 3" in msg and "'high'" in msg and "'y'" in msg


# ---- spec checking ----------------------------------------------------------------------------


def test_check_data_spec_reports_every_problem_at_once() -> None:
    problems = check_data_spec(
        {"name": "spirals", "colour": "red", "noise": -1, "test_fraction": 1.5}
    )
    text = "\n".join(problems)
    assert len(problems) == 4
    assert "'spirals'" in text and "spiral" in text.replace("'spirals'", "")
    assert "colour" in text and "noise" in text and "-1" in text
    assert "test_fraction" in text and "1.5" in text


def test_check_data_spec_known_name_and_ranges() -> None:
    assert check_data_spec({"name": "spiral"}) == []
    assert check_data_spec({"name": "csv", "path": "x.csv", "target": "y"}) == []
    problems = check_data_spec({"name": "moons", "classes": 3, "samples": 3, "seed": True})
    assert len(problems) == 2 and "classes" in problems[0] and "seed" in problems[1]
    assert "at least 2 per class" in check_data_spec({"name": "spiral", "samples": 5})[0]
    both = check_data_spec({"name": "spiral", "samples": 5, "noise": -1})
    assert len(both) == 2 and "noise" in both[0] and "6 for 3 classes" in both[1]
    assert "path" in check_data_spec({"name": "csv"})[0]
    assert check_data_spec({"name": "circles", "factor": 1.0})  # inner circle must be smaller
    assert check_data_spec({"name": "digits", "samples": 5000})
    assert check_data_spec({})[0].startswith("data.name is missing")


def test_invalid_spec_raises_data_error_naming_the_problem() -> None:
    with pytest.raises(DataError, match="noise") as exc:
        load_dataset({"name": "moons", "noise": -0.1})
    assert isinstance(exc.value, VgsimError)
    with pytest.raises(DataError, match="noise"):
        dataset_shape({"name": "moons", "noise": "lots"})
