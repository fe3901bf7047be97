"""Data files of the command line: ``.npz`` archives and numeric CSV.

- ``.npz``: the entries ``X`` and ``y``, or the Keras layout ``x_train``,
  ``y_train`` (and ``x_test``, ``y_test``).  ``part="test"`` picks the test
  pair when there is one (what ``evaluate`` and ``predict`` use).
- ``.csv``: numbers separated by commas, one example per line, the label in
  the last column unless told otherwise; a first line that is not all
  numbers is a header and is skipped (its names can pick the label column).

Rows are examples throughout, as everywhere in fastnn.
"""
import csv
import os
import sys

import numpy as np

from fastnn.cli.errors import CLIError

__all__ = ["read_data", "check_features", "write_table", "check_output"]


def read_data(path, *, label_column=None, part="train", labels=True, n_features=None):
    """``(X, y)`` from a .npz or .csv file.

    labels : True when the command needs labels (y is never None then);
        False when it does not (y may be None).
    n_features : the width the model takes, when known: a CSV whose width
        is exactly that holds no label column.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder; expected a .npz or .csv file")
    kind = os.path.splitext(path)[1].lower()
    if kind == ".npz":
        if label_column is not None:
            raise CLIError(f"--label-column applies to CSV files; {path} is an .npz archive")
        X, y = _read_npz(path, part)
    elif kind == ".csv":
        X, y = _split_label(path, *_read_csv(path), label_column, labels, n_features)
    else:
        raise CLIError(f"{path}: unknown data format {kind or '(no extension)'!r}; "
                       f"expected .npz (X and y) or .csv")
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{path}: the inputs must be numbers; got dtype {X.dtype}")
    if X.ndim != 2:
        # images (m, H, W[, C]) become rows, as Sequential reads them; a 1-D X is one feature
        X = X.reshape(len(X), -1) if X.ndim else X.reshape(1, 1)
    if labels and y is None:
        raise CLIError(f"{path} holds no labels (y)")
    if y is not None and len(y) != len(X):
        raise CLIError(f"{path} has {len(X)} examples but {len(y)} labels")
    return X, y


def check_features(X, n_features, data_path, model_path):
    """Say which files disagree when the data's width is not the model's."""
    if X.shape[1] != n_features:
        raise CLIError(f"{data_path} has {X.shape[1]} features per example but the model "
                       f"{model_path} takes {n_features}")


# ---------------------------------------------------------------- .npz

def _read_npz(path, part):
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            if "X" in names:
                keys = ("X", "y")
            elif "x_train" in names:
                keys = ("x_test", "y_test") if part == "test" and "x_test" in names else (
                    "x_train", "y_train")
            else:
                raise CLIError(f"{path} has the entries {sorted(names)}; expected X and y, or "
                               f"the Keras layout x_train, y_train[, x_test, y_test]")
            return archive[keys[0]], (archive[keys[1]] if keys[1] in names else None)
    except CLIError:
        raise
    except Exception as exc:   # zipfile, pickle refusals, truncated files: all "unreadable"
        raise CLIError(f"{path} is not a readable .npz archive ({exc})") from None


# ---------------------------------------------------------------- .csv

def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path):
    """(table (m, columns) float64, header names or None)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        first = next((line for line in f if line.strip() and not line.startswith("#")), None)
    if first is None:
        raise CLIError(f"{path} is empty")
    fields = _fields(first, path, None)
    header = None if all(_is_number(x) for x in fields) else [x.strip() for x in fields]
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2,
                           dtype=np.float64, encoding="utf-8")
    except ValueError:
        # the fast parser says only that something is wrong: find the line
        table = _parse_slowly(path, header is not None)
    if table.size == 0:
        raise CLIError(f"{path} has no data rows")
    if header is not None and len(header) != table.shape[1]:
        raise CLIError(f"{path}: the header names {len(header)} columns but the rows have "
                       f"{table.shape[1]}")
    return table, header


def _fields(line, path, number):
    """The comma-separated fields of one line; ``csv.Error`` (a field over
    csv's size limit, a NUL byte) becomes a one-line error naming the line."""
    try:
        return next(csv.reader([line]))
    except csv.Error as exc:
        where = f"{path} line {number}" if number is not None else f"{path}'s first line"
        raise CLIError(f"{where} cannot be read as CSV: {exc}") from None


def _parse_slowly(path, skip_header):
    """Parse line by line, naming the first bad line (1-based, as editors count)."""
    rows, width = [], None
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        lines = enumerate(f, 1)
        for number, line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            if skip_header:
                skip_header = False
                continue
            fields = _fields(line, path, number)
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                raise CLIError(f"{path} line {number}: {len(fields)} values; the rows before "
                               f"have {width}")
            row = []
            for column, text in enumerate(fields, 1):
                try:
                    row.append(float(text))
                except ValueError:
                    raise CLIError(f"{path} line {number}: {text.strip()!r} in column {column} "
                                   f"is not a number") from None
            rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width or 0)


def _label_index(spec, n_columns, header, path):
    """The column index of ``--label-column``: a 0-based index (negative from
    the end) or a header name."""
    if spec is None:
        return n_columns - 1
    spec = str(spec)
    try:
        index = int(spec)
    except ValueError:
        if header is None or spec not in header:
            names = f"; its columns are {header}" if header else " (it has no header line)"
            raise CLIError(f"{path} has no column named {spec!r}{names}") from None
        return header.index(spec)
    if not -n_columns <= index < n_columns:
        raise CLIError(f"--label-column {index} is out of range for {path}, which has "
                       f"{n_columns} columns (0 to {n_columns - 1}, or -1 for the last)")
    return index % n_columns


def _split_label(path, table, header, label_column, labels, n_features):
    n_columns = table.shape[1]
    if n_features is not None:
        # the model knows its width: say so in terms of columns, which is what the user sees
        if not labels and label_column is None and n_columns == n_features:
            return table, None      # features only, as predict may get them
        if n_columns != n_features + 1:
            optional = " (and optionally a label column)" if not labels else " and a label column"
            raise CLIError(f"{path} has {n_columns} columns; the model takes {n_features} "
                           f"features{optional}")
    if n_columns < 2:
        raise CLIError(f"{path} has one column: it needs feature columns and a label column")
    index = _label_index(label_column, n_columns, header, path)
    return np.delete(table, index, axis=1), table[:, index]


# ---------------------------------------------------------------- output

def check_output(path):
    """Fail before the work, not after it, when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: there is no folder {folder}")
    if os.path.isdir(path):
        raise CLIError(f"cannot write {path}: it is a folder")
    return path


def write_table(path, array, header, fmt):
    """Write rows of ``array`` as CSV with a header line to ``path``
    (atomically) or to stdout when path is None."""
    array = np.asarray(array)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    header = ",".join(header)
    if path is None:
        np.savetxt(sys.stdout, array, delimiter=",", header=header, comments="", fmt=fmt)
        return
    from fastnn.serialization import atomic_write
    atomic_write(path, lambda f: np.savetxt(f, array, delimiter=",", header=header,
                                            comments="", fmt=fmt))
