"""Data files of the command line: ``.npz``/``.npy`` arrays and delimited text.

- ``.npz``: the entries ``X`` and ``y``, or the Keras layout ``x_train``,
  ``y_train`` (and ``x_test``, ``y_test``).  ``part="test"`` picks the test
  pair when there is one (what ``evaluate`` and ``predict`` use).
- ``.npy``: one 2-D table, read as a CSV file is (the label in the last
  column unless told otherwise).
- ``.csv`` (``.tsv``: tab-separated), also compressed: ``.gz``, ``.bz2``,
  ``.xz``, or a ``.zip`` holding one such file.  One example per line, the
  label in the last column unless told otherwise (``label_column``: a
  0-based index, negative from the end, or a header name).  The feature
  columns are numbers; the labels are numbers or text ("malignant").

Reading is NumPy's (``np.loadtxt``, its C parser); this module only decides
what the first line is and, when NumPy refuses a file, finds the line and
column to name (1-based, as editors count).

The first line (after ``skip_rows`` lines, blank lines and ``#`` comments):

- a scikit-learn header ``n_samples,n_features,class names...`` (its second
  number is the rows' feature count): skipped, and the integer labels
  0, 1, ... become those class names;
- with ``header=None`` (auto), a header only when it has text where the rows
  below have numbers (a row of data is never taken for a header: a file
  without header whose labels are text is read whole);
- ``header=True``/``False``: a header, or data, whatever it holds.

``read_data`` returns ``Data(X, y, note)``: ``y`` is a NumPy array of the
labels, text labels (and named classes) as a string array; ``note`` says
what the first line was taken for (None for arrays).  Rows are examples
throughout, as everywhere in fastnn.
"""
import contextlib
import csv
import io
import os
import sys
import warnings
from typing import NamedTuple, Optional

import numpy as np

from fastnn.cli.errors import CLIError

__all__ = ["Data", "read_data", "check_features", "write_table", "check_output", "listing",
           "DATA_FORMATS"]

DATA_FORMATS = (".npz (X and y, or x_train, y_train[, x_test, y_test]), .npy (a table), or "
                ".csv/.tsv (also .gz, .bz2, .xz, or a .zip of one CSV)")

_COMPRESSIONS = (".gz", ".bz2", ".xz")
_DELIMITERS = {".csv": ",", ".tsv": "\t", "": ","}
_SAMPLE_ROWS = 50          # rows read ahead to tell a header from data
# what a damaged or mislabelled compressed file raises while it is read
_READ_ERRORS = (OSError, EOFError, UnicodeError)


class Data(NamedTuple):
    X: np.ndarray              # or fastnn.data.MappedRows: columns of a mapped .npy
    y: Optional[np.ndarray]
    note: Optional[str] = None
    sample_weight: Optional[np.ndarray] = None


def read_data(path, *, label_column=None, part="train", labels=True, n_features=None,
              header=None, skip_rows=0, weight_column=None):
    """``Data(X, y, note, sample_weight)`` of a data file.

    labels : True when the command needs labels (y is never None then);
        False when it does not (y may be None).
    n_features : the width the model takes, when known: a table whose width
        is exactly that holds no label column.
    header : None (detect), True or False: is the first line a header?
    skip_rows : lines to skip at the top of a text file.
    weight_column : the column of the examples' weights in a table (as
        ``label_column``), or the entry of an .npz archive; None: no weights.

    A .npy file is memory-mapped: X is a view of the file (or, when the
    label or weight column sits between feature columns, a
    ``fastnn.data.MappedRows`` of it), never read whole here.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder; expected a data file: {DATA_FORMATS}")
    if skip_rows is None:
        skip_rows = 0
    if skip_rows < 0:
        raise CLIError(f"--skip-rows must be 0 or more; got {skip_rows}")
    compression, kind = _kinds(path)
    text_only = [flag for flag, given in (("--header/--no-header", header is not None),
                                          ("--skip-rows", skip_rows)) if given]
    note = None
    if compression is None and kind in (".npz", ".npy"):
        if text_only:
            raise CLIError(f"{text_only[0]} applies to CSV files; {path} is a {kind} file")
        if kind == ".npz":
            if label_column is not None:
                raise CLIError(f"--label-column applies to CSV and .npy tables; {path} is an "
                               f".npz archive (its labels are the entry y)")
            X, y, w = _read_npz(path, part, weight_column)
        else:
            X, y, w = _read_npy(path, label_column, labels, n_features, weight_column)
    elif compression == ".zip" or kind in _DELIMITERS:
        X, y, w, note = _CSV(path, compression, kind).read(header, skip_rows, label_column,
                                                            labels, n_features, weight_column)
    else:
        raise CLIError(f"{path}: unknown data format {kind or '(no extension)'!r}; expected "
                       f"{DATA_FORMATS}")
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{path}: the inputs must be numbers; got dtype {X.dtype}")
    if X.ndim != 2:
        # images (m, H, W[, C]) become rows, as Sequential reads them; a 1-D X is one feature
        X = X.reshape(len(X), -1) if X.ndim else X.reshape(1, 1)
    if labels and y is None:
        raise CLIError(f"{path} holds no labels (y)")
    if y is not None:
        if y.dtype.kind not in "biufUS":
            raise CLIError(f"{path}: the labels must be numbers or text; got dtype {y.dtype}")
        if len(y) != len(X):
            # the course keeps X as (n_features, m): one example per column
            hint = (" (is X saved as (n_features, m), the course's layout? save X.T: one "
                    "example per row)" if X.ndim == 2 and X.shape[1] == len(y) else "")
            raise CLIError(f"{path} has {len(X)} examples but {len(y)} labels{hint}")
        if y.dtype.kind == "S":
            y = y.astype(str)
    if w is not None:
        _check_weights(w, len(X), path)
    return Data(X, y, note, w)


def _check_weights(w, m, path):
    if w.ndim != 1 or len(w) != m or w.dtype.kind not in "biuf":
        raise CLIError(f"{path}: the weights must be one number per example ({m}); got shape "
                       f"{w.shape} and dtype {w.dtype}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise CLIError(f"{path}: the weight of example {row + 1} is {w[row]:g}; weights must "
                       f"be finite and >= 0")
    if not w.any():
        raise CLIError(f"{path}: every weight is 0; nothing would be learned")


def check_features(X, n_features, data_path, model_path):
    """Say which files disagree when the data's width is not the model's."""
    if X.shape[1] != n_features:
        raise CLIError(f"{data_path} has {X.shape[1]} features per example but the model "
                       f"{model_path} takes {n_features}")


def _kinds(path):
    """(compression or None, extension of the data inside) of a file name:
    "digits.csv.gz" -> (".gz", ".csv"); "a.zip" -> (".zip", None)."""
    stem, ext = os.path.splitext(os.path.basename(path).lower())
    if ext in _COMPRESSIONS:
        return ext, os.path.splitext(stem)[1]
    if ext == ".zip":
        return ext, None
    return None, ext


# ---------------------------------------------------------------- arrays

def _read_npz(path, part, weight_entry=None):
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
            if weight_entry is not None and weight_entry not in names:
                raise CLIError(f"{path} has no entry {weight_entry!r} (--weight-column names an "
                               f"entry of an .npz archive); its entries are {sorted(names)}")
            return (archive[keys[0]], archive[keys[1]] if keys[1] in names else None,
                    None if weight_entry is None else archive[weight_entry])
    except CLIError:
        raise
    except Exception as exc:   # zipfile, pickle refusals, truncated files: all "unreadable"
        raise CLIError(f"{path} is not a readable .npz archive ({exc})") from None


def _read_npy(path, label_column, labels, n_features, weight_column):
    try:
        # memory-mapped: a table larger than memory trains from the file
        table = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as exc:
        raise CLIError(f"{path} is not a readable .npy file ({exc})") from None
    if table.ndim != 2 or table.dtype.kind not in "biuf":
        raise CLIError(f"{path} holds an array of shape {table.shape} and dtype {table.dtype}; "
                       f"a .npy file is read as a table of numbers: one example per row, the "
                       f"label in the last column (see --label-column)")
    index, windex = _label_and_weight(label_column, weight_column, table.shape[1], None, path,
                                      labels, n_features)
    others = [i for i in (index, windex) if i is not None]
    y, w = (None if i is None else np.array(table[:, i]) for i in (index, windex))
    features = [i for i in range(table.shape[1]) if i not in others]
    lo, hi = features[0], features[-1] + 1
    if hi - lo == len(features):
        return table[:, lo:hi], y, w            # a view of the map
    from fastnn.data import MappedRows
    return MappedRows(table, columns=np.array(features)), y, w


def _label_and_weight(spec, weight_spec, n_columns, names, path, labels, n_features,
                      sklearn=False):
    """(label column, weight column) of a table; either may be None (the
    table holds no labels; no weights were asked for)."""
    windex = None
    if weight_spec is not None:
        windex = _column(weight_spec, n_columns, names, path, "--weight-column", sklearn)
    index = _label_index(spec, n_columns, names, path, labels, n_features, sklearn, windex)
    if index is not None and index == windex:
        raise CLIError(f"{path}: column {index} cannot hold both the labels and the weights")
    return index, windex


def _label_index(spec, n_columns, names, path, labels, n_features, sklearn=False,
                 windex=None):
    """The column index of the labels (None: the table holds features only).

    spec : ``--label-column``, a 0-based index (negative from the end) or a
    header name; None is the last column (the last but the weight column
    ``windex``, when that is last)."""
    data_columns = n_columns - (windex is not None)
    if n_features is not None:
        # the model knows its width: say so in terms of columns, which is what the user sees
        if not labels and spec is None and data_columns == n_features:
            return None      # features only, as predict may get them
        if data_columns != n_features + 1:
            optional = " (and optionally a label column)" if not labels else " and a label column"
            weights = " besides its weight column" if windex is not None else ""
            hint = (" (is one a column of weights? name it with --weight-column)"
                    if windex is None and data_columns == n_features + 2 else "")
            raise CLIError(f"{path} has {data_columns} columns{weights}; the model takes "
                           f"{n_features} features{optional}{hint}")
    if data_columns < 2:
        raise CLIError(f"{path} has one column: it needs feature columns and a label column "
                       f"(fastnn reads comma-separated values; .tsv files tab-separated)")
    if spec is None:
        return n_columns - 1 if windex != n_columns - 1 else n_columns - 2
    return _column(spec, n_columns, names, path, "--label-column", sklearn)


def _column(spec, n_columns, names, path, flag, sklearn=False):
    """The 0-based index of column ``spec``: an index (negative from the
    end) or a header name."""
    spec = str(spec).strip()
    try:
        index = int(spec)
    except ValueError:
        if names is None or spec not in names:
            if sklearn:
                where = (" (its first line is a scikit-learn header: example count, feature "
                         "count and class names, no column names)")
            elif names:
                where = f"; its columns are {listing(names)}"
            else:
                where = " (it has no header line)"
            raise CLIError(f"{path} has no column named {spec!r}{where}") from None
        return names.index(spec)
    if not -n_columns <= index < n_columns:
        raise CLIError(f"{flag} {index} is out of range for {path}, which has "
                       f"{n_columns} columns (0 to {n_columns - 1}, or -1 for the last)")
    return index % n_columns


def listing(names, limit=12):
    shown = ", ".join(str(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# ---------------------------------------------------------------- delimited text

def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _content(line):
    """A line as np.loadtxt sees it: without its ``#`` comment; "" when blank."""
    return line.split("#", 1)[0].strip()


class _CSV:
    """One delimited text file (possibly compressed): what its first line is,
    and its table read by ``np.loadtxt``."""

    def __init__(self, path, compression, kind):
        self.path, self.compression, self.member = path, compression, None
        if compression == ".zip":
            self.member, kind = self._zip_member()
        if kind not in _DELIMITERS:
            inside = f"{self.member} inside " if self.member else ""
            raise CLIError(f"{path}: {inside}a compressed {kind!r} file is not a format fastnn "
                           f"reads; expected {DATA_FORMATS}")
        self.delimiter = _DELIMITERS[kind]

    def _zip_member(self):
        import zipfile
        try:
            with zipfile.ZipFile(self.path) as archive:
                names = [i.filename for i in archive.infolist() if not i.is_dir()
                         and not i.filename.startswith("__MACOSX/")
                         and not os.path.basename(i.filename).startswith("._")]
        except (zipfile.BadZipFile, *_READ_ERRORS) as exc:
            raise CLIError(f"{self.path} is not a readable .zip file ({exc})") from None
        if len(names) != 1:
            held = f"holds {len(names)} files ({listing(names, 5)})" if names else "is empty"
            raise CLIError(f"{self.path} {held}; fastnn reads a .zip that holds one CSV file")
        return names[0], os.path.splitext(names[0].lower())[1]

    @contextlib.contextmanager
    def text(self):
        """The file's text, decompressed, line by line (UTF-8; a byte-order mark
        is dropped, as spreadsheets write one)."""
        import bz2
        import gzip
        import lzma
        import zipfile

        with contextlib.ExitStack() as stack:
            if self.compression == ".zip":
                archive = stack.enter_context(zipfile.ZipFile(self.path))
                raw = stack.enter_context(archive.open(self.member))
            else:
                opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(
                    self.compression, open)
                raw = stack.enter_context(opener(self.path, "rb"))
            yield stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8-sig",
                                                       errors="replace"))

    def _unreadable(self, exc):
        what = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "zip"}.get(
            self.compression)
        if what is None:
            return CLIError(f"cannot read {self.path}: {exc}")
        return CLIError(f"{self.path} is not a readable {what} file ({exc})")

    def _fields(self, line, number):
        """The fields of one line; ``csv.Error`` (a field over csv's size limit,
        a NUL byte) becomes a one-line error naming the line."""
        try:
            return next(csv.reader([line], delimiter=self.delimiter))
        except csv.Error as exc:
            raise CLIError(f"{self.path} line {number} cannot be read as CSV: {exc}") from None
        except StopIteration:
            return []

    def _sample(self, skip_rows):
        """(first line's fields, its line number, [(number, fields)] of up to
        _SAMPLE_ROWS lines below it) of the content after skip_rows lines."""
        first, number, rows = None, None, []
        with self.text() as f:
            for n, line in enumerate(f, 1):
                if n <= skip_rows or not _content(line):
                    continue
                fields = self._fields(_strip_comment(line), n)
                if first is None:
                    first, number = fields, n
                else:
                    rows.append((n, fields))
                    if len(rows) == _SAMPLE_ROWS:
                        break
        return first, number, rows

    def read(self, header, skip_rows, label_column, labels, n_features, weight_column=None):
        try:
            return self._read(header, skip_rows, label_column, labels, n_features, weight_column)
        except CLIError:
            raise
        except _READ_ERRORS as exc:
            raise self._unreadable(exc) from None
        except Exception as exc:     # zipfile, lzma and zlib errors of a damaged file
            import lzma
            import zipfile
            import zlib
            if isinstance(exc, (zipfile.BadZipFile, lzma.LZMAError, zlib.error)):
                raise self._unreadable(exc) from None
            raise

    def _read(self, header, skip_rows, label_column, labels, n_features, weight_column):
        path = self.path
        first, first_number, rows = self._sample(skip_rows)
        if first is None:
            skipped = f" after the {skip_rows} skipped lines" if skip_rows else ""
            raise CLIError(f"{path} is empty{skipped}")
        width = len(rows[0][1]) if rows else len(first)
        sklearn = _sklearn_header(first, width) if header is not False else None
        if sklearn is not None:
            index, windex = _label_and_weight(label_column, weight_column, width, None, path,
                                              labels, n_features, sklearn=True)
            if index is None or all(_is_number(f[index]) for _, f in rows if len(f) > index):
                X, y, w = self._table(first_number, index, False, windex)
                # "1,2,cat" over rows of 3 values is data unless there is 1 row
                if header or len(X) == sklearn[0]:
                    note = (f"line {first_number} read as a scikit-learn header: {sklearn[0]} "
                            f"examples, {sklearn[1]} features" + (
                                "; labels " + ", ".join(f"{i} = {name}" for i, name in
                                                        enumerate(sklearn[2]))
                                if sklearn[2] else ""))
                    if sklearn[2] and y is not None:
                        y = self._name_classes(y, sklearn[2], first_number)
                    return X, y, w, note
        if header is None:
            header = _looks_like_header(first, rows)
        names = [x.strip() for x in first] if header else None
        note = f"line {first_number} read as a header: {listing(names, 8)}" if header else None
        if names is not None and rows and len(names) != width:
            raise CLIError(f"{path}: the header (line {first_number}) names {len(names)} "
                           f"column{'s' if len(names) > 1 else ''} but the rows have {width}; "
                           f"pass --no-header if line {first_number} is data, or --skip-rows "
                           f"{first_number} to skip it")
        index, windex = _label_and_weight(label_column, weight_column, width, names, path,
                                          labels, n_features)
        below = rows if names is not None else [(first_number, first)] + rows
        text_labels = index is not None and any(
            len(fields) > index and not _is_number(fields[index]) for _, fields in below)
        # physical lines before the first row of data: loadtxt's skiprows counts them all
        data_start = first_number if names is not None else first_number - 1
        X, y, w = self._table(data_start, index, text_labels, windex)
        return X, y, w, note

    def _table(self, data_start, index, text_labels, windex=None):
        """(X, y, weights) by np.loadtxt; on a refusal, the line and column to blame."""
        codes = {}
        kwargs = dict(delimiter=self.delimiter, quotechar='"', skiprows=data_start, ndmin=2,
                      dtype=np.float64, comments="#")
        if text_labels:
            kwargs["converters"] = {index: lambda s: codes.setdefault(s.strip(), len(codes))}
        try:
            with self.text() as f, warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)    # "input contained no data"
                table = np.loadtxt(f, **kwargs)
        except ValueError as exc:
            problem = self._find_problem(data_start, index, text_labels)
            if problem == "text label":
                return self._table(data_start, index, True, windex)
            raise CLIError(problem or f"{self.path}: {exc}") from None
        if table.size == 0:
            raise CLIError(f"{self.path} has no data rows")
        w = None if windex is None else table[:, windex].copy()
        if windex is not None:
            table = np.delete(table, windex, axis=1)
            index = index if index is None or index < windex else index - 1
        if index is None:
            return table, None, w
        y = table[:, index]
        if text_labels:
            y = y.astype(np.intp)
            if "" in codes:
                line = self._line_of_row(data_start, int(np.argmax(y == codes[""])))
                raise CLIError(f"{self.path} line {line}: the label (column {index + 1}) is "
                               f"empty; every example needs a label")
            y = np.array(list(codes), dtype=str)[y]
        return np.delete(table, index, axis=1), y, w

    def _find_problem(self, data_start, index, text_labels):
        """The first line np.loadtxt refuses, as a message (1-based line and
        column numbers); "text label" when the only problem is text in a label
        column read as numbers; None when the reason is not found here."""
        width = None
        with self.text() as f:
            for number, line in enumerate(f, 1):
                if number <= data_start or not _content(line):
                    continue
                fields = self._fields(_strip_comment(line), number)
                if width is None:
                    width = len(fields)
                elif len(fields) != width:
                    return (f"{self.path} line {number}: {len(fields)} values; the rows "
                            f"before have {width}")
                for column, text in enumerate(fields):
                    if column == index and (text_labels or text.strip()):
                        if not text_labels and not _is_number(text):
                            return "text label"
                        continue
                    if not text.strip():
                        return (f"{self.path} line {number}: column {column + 1} is empty (a "
                                f"missing value); every feature and label needs a value")
                    if not _is_number(text):
                        return (f"{self.path} line {number}: {text.strip()!r} in column "
                                f"{column + 1} is not a number")
        return None

    def _name_classes(self, y, classes, data_start):
        """Integer labels 0..k-1 as the class names of a scikit-learn header."""
        if y.dtype.kind in "US":
            return y                   # text labels already: they name themselves
        ok = np.isfinite(y) & (y == np.floor(y)) & (y >= 0) & (y < len(classes))
        if not ok.all():
            row = int(np.argmin(ok))
            raise CLIError(f"{self.path} line {self._line_of_row(data_start, row)}: the label "
                           f"{y[row]:g} is not one of the {len(classes)} classes its first line "
                           f"names ({', '.join(classes)}: labels 0 to {len(classes) - 1})")
        return np.array(classes, dtype=str)[y.astype(np.intp)]

    def _line_of_row(self, data_start, row):
        """The 1-based line number of data row ``row`` (0-based)."""
        with self.text() as f:
            seen = -1
            for number, line in enumerate(f, 1):
                if number > data_start and _content(line):
                    seen += 1
                    if seen == row:
                        return number
        return "?"


def _strip_comment(line):
    return line.split("#", 1)[0].rstrip("\r\n")


def _sklearn_header(first, width):
    """(n_samples, n_features, class names) when ``first`` is the first line of
    scikit-learn's CSV data sets: two integers, the second the rows' feature
    count, then text (the class names, possibly none)."""
    if len(first) < 2:
        return None
    try:
        n_samples, n_features = int(first[0]), int(first[1])
    except ValueError:
        return None
    names = [x.strip() for x in first[2:]]
    while names and not names[-1]:
        names.pop()                  # "506,13,,," : no names
    if n_samples < 1 or n_features != width - 1 or any(not x or _is_number(x) for x in names):
        return None
    if not names and len(first) == width:
        return None                  # all numbers and as wide as the rows: data
    return n_samples, n_features, names


def _looks_like_header(first, rows):
    """A first line is a header when it has text in a column where the rows
    below hold numbers (a data row has numbers there too)."""
    if not rows:
        return not all(_is_number(x) for x in first)
    for column, text in enumerate(first):
        below = [fields[column] for _, fields in rows if len(fields) > column]
        if below and not _is_number(text) and all(_is_number(x) for x in below):
            return True
    return False


# ---------------------------------------------------------------- output

def check_output(path):
    """Fail before the work, not after it, when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: there is no folder {folder}")
    if os.path.isdir(path):
        raise CLIError(f"cannot write {path}: it is a folder")
    return path


def _csv_text(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def write_table(path, array, header, fmt):
    """Write rows of ``array`` as CSV with a header line to ``path``
    (atomically) or to stdout when path is None.  Text (class names) is
    quoted where CSV needs it."""
    array = np.asarray(array)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    head = _csv_text([header])

    def write(f, binary):
        put = (lambda s: f.write(s.encode("utf-8"))) if binary else f.write
        put(head)
        if array.dtype.kind in "USO":
            put(_csv_text(array.tolist()))
        else:
            np.savetxt(f, array, delimiter=",", fmt=fmt)

    if path is None:
        write(sys.stdout, False)
        return
    from fastnn.serialization import atomic_write
    atomic_write(path, lambda f: write(f, True))
