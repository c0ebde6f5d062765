"""One reader for every input table: a file that cannot be used stops the stage with one line.

Every stage reads its tables through here: the local data files of ``prepare`` (parquet, CSV,
JSON lines), the prepared splits, the probe texts, every predictions file (through
:func:`pipeline.lib.prediction_files.read_predictions`) and ``data/profile.json``. A file that is
missing,
a directory, empty, not in its format (random bytes, cut short, not UTF-8, ragged rows, a JSON
array instead of JSON lines), short of a column, or whose ids, texts or labels are unusable
raises :class:`~pipeline.lib.errors.SuiteError` with one line that names the file, says what was
expected and what was found::

    data/raw/train.csv: not a CSV file (could not parse line 3: expected 3 fields, saw 5)
    data/splits/dev.parquet: null id at row 7; every row needs a unique id

Rows are counted from 0, in the order of the file (``row 0`` is the first data row).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lib import contract
from pipeline.lib.errors import SuiteError

log = logging.getLogger(__name__)

# File suffix -> format name, for the formats a caller accepts.
SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
FORMATS = ("parquet", "csv", "jsonl")
PREPARE_HINT = "run the prepare stage (dvc repro prepare)"
_SHOWN = 60  # characters of a bad value shown in a message
CSV_FIELD_LIMIT = 2**31 - 1  # characters per CSV field (the csv module's C long maximum)
# The field delimiters a CSV file may use (spreadsheets in many locales save with semicolons).
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_SNIFF_CHARACTERS = 1 << 16  # how much of a CSV file the delimiter is detected on
_SNIFF_ROWS = 50
_BLANK_ROWS_SHOWN = 5  # row numbers a message lists before "and N more"

DocumentT = TypeVar("DocumentT", bound=contract.BaseModel)


def _short(value: Any) -> str:
    """A value as a message shows it: repr, cut to a readable length."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _described(fmt: str, columns: Sequence[str]) -> str:
    """What a file should be, e.g. ``a CSV file with the columns id, text``."""
    kind = {
        "parquet": "a parquet file",
        "csv": "a CSV file (UTF-8, header row)",
        "jsonl": "JSON lines (one object per line)",
        "json": "a JSON file",
    }[fmt]
    return f"{kind} with the columns {', '.join(columns)}" if columns else kind


def _check_file(path: Path, expected: str, what: str, missing_hint: str | None) -> None:
    """Stop unless ``path`` is a readable, non-empty regular file."""
    if path.is_dir():
        raise SuiteError(f"{path}: is a directory, expected {expected}")
    if not path.exists():
        hint = f"; {missing_hint}" if missing_hint else ""
        raise SuiteError(f"{path}: {what} not found{hint}")
    if not path.is_file():
        raise SuiteError(f"{path}: not a regular file, expected {expected}")
    if path.stat().st_size == 0:
        raise SuiteError(f"{path}: empty file (0 bytes), expected {expected}")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise SuiteError(f"{path}: cannot be read ({err.strerror or _first_line(err)})") from None


def _decode(path: Path, raw: bytes, expected: str) -> str:
    """The file's text, or one line saying where it is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise SuiteError(
            f"{path}: not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}), expected "
            f"{expected}; save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not part of the first column


def _read_parquet(
    path: Path, columns: Sequence[str], keep_others: bool, check: bool = True
) -> pd.DataFrame:
    expected = _described("parquet", columns)
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError) as err:
        raise SuiteError(
            f"{path}: not a parquet file ({_first_line(err)}), expected {expected}"
        ) from None
    _check_columns(path, names, columns if check else (), expected)
    try:
        return pd.read_parquet(path, columns=None if keep_others else list(columns))
    except (pa.ArrowException, OSError, ValueError) as err:
        raise SuiteError(f"{path}: corrupt parquet file ({_first_line(err)})") from None


def _delimiter(text: str) -> str | None:
    """The delimiter (comma, semicolon or tab) that splits the first lines evenly, or None.

    A delimiter fits when it cuts the header into at least two fields and every following line
    of the sample into as many. When several fit, the first of :data:`DELIMITERS` wins.
    """
    sample = text[:_SNIFF_CHARACTERS]
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            rows = [row for _, row in zip(range(_SNIFF_ROWS), reader, strict=False) if row]
        except csv.Error:
            continue
        if len(sample) < len(text):
            rows = rows[:-1]  # the sample may end inside the last row read
        if rows and len(rows[0]) > 1 and all(len(row) == len(rows[0]) for row in rows[1:]):
            return delimiter
    return None


def _read_csv(path: Path, columns: Sequence[str], check: bool = True) -> pd.DataFrame:
    """A CSV file's cells as text (a label ``"1"`` stays ``"1"``; the checks convert it).

    The delimiter (comma, semicolon or tab) is detected on the first lines; rows at the end of
    the file whose every field is empty (what a spreadsheet leaves below the data) are dropped
    with a note.
    """
    expected = _described("csv", columns)
    text = _decode(path, _read_bytes(path), expected)
    start = text.lstrip()[:1]
    if start in ("[", "{"):
        kind = "a JSON array" if start == "[" else "JSON"
        raise SuiteError(f"{path}: {kind}, expected {expected}")
    # As long a field as parquet takes (a 1M-character bio): the csv module's default is 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    # newline="": only \n and \r end a record, as the csv module expects (not \f or U+2028)
    delimiter = _delimiter(text)
    if delimiter is None:
        how = (
            "read as comma-separated: no comma, semicolon or tab splits its first lines into "
            "the same number of fields"
        )
    else:
        how = f"read as {DELIMITERS[delimiter]}-separated"
        if delimiter != ",":
            log.info("%s: %s", path, how)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter or ",")
    try:
        header = next(reader, None)
        if not header or header == [""]:
            raise SuiteError(f"{path}: no header row, expected {expected}")
        rows = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise SuiteError(
                    f"{path}: not a CSV file (could not parse line {reader.line_num}: expected "
                    f"{len(header)} fields, saw {len(row)}); {how}"
                )
            rows.append(row)
    except csv.Error as err:
        raise SuiteError(
            f"{path}: not a CSV file (could not parse line {reader.line_num}: "
            f"{_first_line(err)}); {how}"
        ) from None
    trailing = 0
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
        trailing += 1
    if trailing:
        log.info(
            "%s: dropped %d empty row%s at the end of the file (every field empty, as a "
            "spreadsheet leaves them)",
            path,
            trailing,
            "" if trailing == 1 else "s",
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise SuiteError(f"{path}: column {duplicated[0]!r} appears twice in the header")
    _check_columns(path, header, columns if check else (), expected)
    return pd.DataFrame(rows, columns=header, dtype=object)


def _read_jsonl(path: Path, columns: Sequence[str], check: bool = True) -> pd.DataFrame:
    expected = _described("jsonl", columns)
    text = _decode(path, _read_bytes(path), expected)
    if text.lstrip().startswith("["):
        raise SuiteError(f"{path}: a JSON array, expected {expected}")
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise SuiteError(
                f"{path}: not JSON lines (line {number}: {err.msg} at column {err.colno}), "
                f"expected {expected}"
            ) from None
        if not isinstance(record, dict):
            raise SuiteError(
                f"{path}: line {number} is a JSON {type(record).__name__}, expected {expected}"
            )
        records.append(record)
    if not records:
        raise SuiteError(f"{path}: no records (blank lines only), expected {expected}")
    found = list(dict.fromkeys(key for record in records for key in record))
    _check_columns(path, found, columns if check else (), expected)
    return pd.DataFrame.from_records(records, columns=found)


def require_columns(
    path: str | os.PathLike[str], found: Sequence[str], columns: Sequence[str]
) -> None:
    """Stop unless ``found`` (the columns of the table read from ``path``) holds ``columns``."""
    file = Path(path)
    fmt = SUFFIXES.get(file.suffix.lower(), "csv")
    _check_columns(file, list(found), columns, _described(fmt, columns))


def _check_columns(path: Path, found: Sequence[str], columns: Sequence[str], expected: str) -> None:
    missing = [column for column in columns if column not in found]
    if missing:
        shown = ", ".join(_short(name) if not isinstance(name, str) else name for name in found[:8])
        more = f" and {len(found) - 8} more" if len(found) > 8 else ""
        raise SuiteError(
            f"{path}: missing column {missing[0]!r}, expected {expected} "
            f"(found: {shown or 'no columns'}{more})"
        )


def read_table(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    columns: Sequence[str] = (),
    formats: Sequence[str] = FORMATS,
    keep_others: bool = True,
    missing_hint: str | None = None,
    check_columns: bool = True,
) -> pd.DataFrame:
    """Read a parquet, CSV or JSON-lines table that must hold ``columns``.

    ``check_columns=False`` names ``columns`` in messages but leaves checking them to the caller
    (:func:`require_columns`), which may first rename some.

    The format comes from the suffix (``.parquet``, ``.csv``, ``.jsonl`` or ``.json`` for JSON
    lines) and must be one of ``formats``. ``keep_others=False`` returns only ``columns`` (for
    parquet, only those are read). ``what`` names the file in the not-found message, followed by
    ``missing_hint`` (the command that makes it). The index is the row number in the file.
    Any problem raises :class:`SuiteError` with one line naming ``path``.
    """
    file = Path(path)
    fmt = SUFFIXES.get(file.suffix.lower())
    if fmt not in formats:
        allowed = " or ".join(f".{f}" for f in formats)
        raise SuiteError(
            f"{file}: unknown format {file.suffix or '(no suffix)'!r}, expected a {allowed} file"
        )
    _check_file(file, _described(fmt, columns), what, missing_hint)
    if fmt == "parquet":
        frame = _read_parquet(file, columns, keep_others, check_columns)
    elif fmt == "csv":
        frame = _read_csv(file, columns, check_columns)
    else:
        frame = _read_jsonl(file, columns, check_columns)
    if not keep_others:
        frame = frame[list(columns)]
    return frame.reset_index(drop=True)


def read_json(
    path: str | os.PathLike[str],
    *,
    what: str = "JSON file",
    missing_hint: str | None = None,
) -> Any:
    """Read one JSON document; a missing, empty or broken file stops with one line."""
    file = Path(path)
    _check_file(file, f"{what} (JSON)", what, missing_hint)
    text = _decode(file, _read_bytes(file), f"{what} (JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SuiteError(
            f"{file}: not JSON ({err.msg} at line {err.lineno}, column {err.colno}), "
            f"expected {what}"
        ) from None
    except RecursionError:
        raise SuiteError(f"{file}: JSON nested too deeply to read, expected {what}") from None


def read_numbers(
    path: str | os.PathLike[str], columns: Sequence[str], *, what: str, missing_hint: str | None
) -> pd.DataFrame:
    """A CSV table of numbers the suite wrote (e.g. a training ``history.csv``); one line if bad.

    Blank cells are missing values; any other cell must be a finite number.
    """
    frame = read_table(
        path,
        what=what,
        columns=columns,
        formats=("csv",),
        keep_others=False,
        missing_hint=missing_hint,
    )
    for column in columns:
        text = frame[column].astype(str).str.strip()
        values = pd.to_numeric(text.where(text != "", None), errors="coerce")
        with np.errstate(invalid="ignore"):
            bad = (values.isna() & (text != "")) | np.isinf(values.to_numpy(np.float64))
        if bad.any():
            row = _row(frame, _first(bad))
            raise SuiteError(
                f"{path}: {column} {_short(frame[column].iloc[_first(bad)])} at row {row} is not "
                f"a finite number; {missing_hint or 'run the stage that makes it again'}"
            )
        frame[column] = values.astype(np.float64)
    return frame


def read_json_object(
    path: str | os.PathLike[str], *, what: str, missing_hint: str | None = None
) -> dict[str, Any]:
    """A JSON object the suite wrote (``metrics.json``...); one line if broken or not an object."""
    value = read_json(path, what=what, missing_hint=missing_hint)
    if not isinstance(value, dict):
        raise SuiteError(f"{path}: the top level is a JSON {type(value).__name__}, expected {what}")
    return value


def read_suite_metadata(path: str | os.PathLike[str], *, what: str = "file") -> dict[str, Any]:
    """The ``suite`` metadata of a parquet file the suite wrote, or ``{}``; one line if broken.

    (:func:`pipeline.lib.io.write_parquet` stores it as JSON in the schema metadata.)
    """
    file = Path(path)
    _check_file(file, f"a parquet {what}", what, None)
    try:
        raw = (pq.read_schema(file).metadata or {}).get(b"suite")
    except (pa.ArrowException, OSError) as err:
        raise SuiteError(f"{file}: not a parquet file ({_first_line(err)})") from None
    if not raw:
        return {}
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise SuiteError(
            f"{file}: its suite metadata is not JSON ({_first_line(err)}); run its stage again"
        ) from None
    if not isinstance(meta, dict):
        raise SuiteError(
            f"{file}: its suite metadata is a JSON {type(meta).__name__}, expected an object; "
            "run its stage again"
        )
    return meta


# --- checks of columns, shared by prepare (raw files) and every reader of prepared tables -----


def _row(frame: pd.DataFrame, position: int) -> Any:
    """The row number a message shows: the frame's index label (the row in the file)."""
    label = frame.index[position]
    return label.item() if isinstance(label, np.generic) else label


def _first(mask: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def check_ids(frame: pd.DataFrame, where: str, column: str = "id") -> pd.Series:
    """Return the ids as text; stop at a null, empty or repeated one."""
    ids = frame[column]
    null = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
    if null.any():
        raise SuiteError(
            f"{where}: null id at row {_row(frame, _first(null))}; every row needs a unique id"
        )
    as_text = ids.map(lambda value: value.item() if isinstance(value, np.generic) else value)
    as_text = as_text.astype(str)
    repeated = as_text.duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = np.flatnonzero(repeated & (as_text == as_text.iloc[_first(repeated)]).to_numpy())
        raise SuiteError(
            f"{where}: duplicate id {as_text.iloc[rows[0]]!r} at rows {_row(frame, rows[0])} "
            f"and {_row(frame, rows[1])}; ids must be unique"
        )
    return as_text


def _is_missing(value: Any) -> bool:
    value = value.item() if isinstance(value, np.generic) else value
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_texts(frame: pd.DataFrame, where: str, column: str = "text") -> None:
    """Stop at a value that is not a string; stop once for all the empty or missing ones.

    Every empty or missing text is counted in the one message, with the first few row numbers,
    so a file with many is fixed in one pass.
    """
    values = frame[column]
    missing = values.map(_is_missing).to_numpy(dtype=bool)
    is_text = values.map(lambda value: isinstance(value, str)).to_numpy(dtype=bool)
    not_text = ~is_text & ~missing
    if not_text.any():
        position = _first(not_text)
        value = values.iloc[position]
        value = value.item() if isinstance(value, np.generic) else value  # int64 -> int
        raise SuiteError(
            f"{where}: {column} at row {_row(frame, position)} is {type(value).__name__}, not text"
        )
    empty = is_text & (values.where(is_text, "x").astype(str).str.strip() == "").to_numpy(bool)
    blank = np.flatnonzero(missing | empty)
    if len(blank) == 1:
        found = "missing" if missing[blank[0]] else "empty"
        raise SuiteError(f"{where}: {column} at row {_row(frame, blank[0])} is {found}")
    if len(blank) > 1:
        shown = ", ".join(str(_row(frame, i)) for i in blank[:_BLANK_ROWS_SHOWN])
        more = (
            f" and {len(blank) - _BLANK_ROWS_SHOWN} more" if len(blank) > _BLANK_ROWS_SHOWN else ""
        )
        raise SuiteError(
            f"{where}: {column} is empty or missing in {len(blank)} of {len(values)} rows "
            f"(rows {shown}{more}); write those bios or remove their rows"
        )


def check_labels(frame: pd.DataFrame, where: str, column: str, n_labels: int) -> np.ndarray:
    """Return the labels as int64; stop at one that is not an integer in 0..n_labels-1."""
    values = frame[column]
    if values.dtype == bool:
        values = values.astype(np.int64)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers % 1 != 0) | (numbers < 0) | (numbers >= n_labels)
    if bad.any():
        position = _first(bad)
        value = values.iloc[position]
        # A number read from text (a CSV cell) is shown as written, without quotes.
        shown = value if isinstance(value, str) and np.isfinite(numbers[position]) else None
        raise SuiteError(
            f"{where}: {column} label {shown or _short(value)} at row "
            f"{_row(frame, position)} is out of range; expected an integer 0-{n_labels - 1}"
        )
    return numbers.astype(np.int64)


# --- the suite's own tables ----------------------------------------------------------------


def read_prepared(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    *,
    what: str,
    stage: str,
    spec: contract.TableSpec | None = None,
) -> pd.DataFrame:
    """Read ``columns`` of a table another stage made (a split, the probes) and check them.

    ``id`` (unique, non-null), ``text`` (non-empty strings), the labels ``gender_id``,
    ``expected_gender_id`` (0/1) and ``profession_id`` (0-27), and ``source_id`` / ``variant``
    (non-null), whichever are among ``columns``; then every column's dtype against its
    contract ``spec``. ``stage`` makes the file (named in the fix).
    """
    from pipeline.lib.labels import GENDERS, PROFESSIONS

    where = str(path)
    hint = f"run the {stage} stage (dvc repro {stage})"
    frame = read_table(
        path,
        what=what,
        columns=columns,
        formats=("parquet",),
        keep_others=False,
        missing_hint=f"{hint} first",
    )
    if frame.empty:
        raise SuiteError(f"{where}: no bios (0 rows); {hint} again")
    if "id" in columns:
        check_ids(frame, where)
    if "text" in columns:
        check_texts(frame, where)
    for column in ("source_id", "variant"):
        if column in columns and frame[column].isna().any():
            row = _row(frame, _first(frame[column].isna()))
            raise SuiteError(f"{where}: {column} at row {row} is missing; {hint} again")
    labels = {"gender_id": GENDERS, "expected_gender_id": GENDERS, "profession_id": PROFESSIONS}
    for column, names in labels.items():
        if column in columns:
            check_labels(frame, where, column, len(names))
    if spec is not None:
        contract.check_table(frame, spec, where, columns=columns)
    return frame


def read_split(path: str | os.PathLike[str], columns: Sequence[str]) -> pd.DataFrame:
    """Read and check ``columns`` of a prepared split (``data/splits/<split>.parquet``)."""
    return read_prepared(
        path, columns, what="split", stage="prepare", spec=contract.TABLES["split"]
    )


def read_probes(path: str | os.PathLike[str], columns: Sequence[str]) -> pd.DataFrame:
    """Read and check ``columns`` of the probe texts (``data/probes/probes.parquet``)."""
    return read_prepared(
        path, columns, what="probe texts", stage="probe", spec=contract.TABLES["probe_texts"]
    )


def _conforming(value: Any, path: str | os.PathLike[str], model: type[DocumentT], fix: str) -> Any:
    try:
        return contract.validate(model, value, path)
    except contract.ContractError as err:
        raise contract.ContractError(path, f"{err.detail}; {fix}") from None


def read_document(
    path: str | os.PathLike[str],
    model: type[DocumentT],
    *,
    what: str,
    fix: str,
    missing_hint: str | None = None,
) -> DocumentT:
    """A JSON document the suite wrote, as its :mod:`pipeline.lib.contract` model.

    Missing, broken, not an object or not matching the contract: one line naming the file and
    the first bad field, ending with ``fix`` (the command that makes it again).
    """
    value = read_json_object(path, what=what, missing_hint=missing_hint)
    return _conforming(value, path, model, fix)


def read_profile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``data/profile.json`` and check it against :class:`pipeline.lib.contract.Profile`.

    Among the rest, ``splits.train.professions`` maps every profession name to its counts and
    ``share_women``: null (no train bio of that profession) or a number in [0, 1].
    """
    what = "the data profile written by the prepare stage"
    profile = read_json_object(path, what=what, missing_hint=f"{PREPARE_HINT} first")
    _conforming(profile, path, contract.Profile, f"{PREPARE_HINT} again")
    return profile
