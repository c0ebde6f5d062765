"""The contract of every file the suite writes: one declaration per JSON shape, table and word.

Writers check what they write against it and every reader (the analyze stage, the dashboard,
``score``, ``studies``) reads through it, so a file that does not match stops with one line
naming the file and the field::

    results/analysis/summary.json: settings.confidence is missing
    results/analysis/gaps.csv: column 'gap' holds text ('big') at row 3, expected numbers

What it declares:

- **closed vocabularies** as :class:`~enum.StrEnum` (their members compare equal to the words
  in the files): :class:`ProbeVariant`, :class:`PairFamily`, :class:`ProxyDirection`, and
  :data:`ALL_PROFESSIONS`, the ``profession`` of the probes table's row over every profession;
  run names (``<predictor>@seed<n>``) are made and split by :func:`pipeline.lib.paths.run_name`
  and :func:`pipeline.lib.paths.split_run`;
- **JSON documents** as pydantic models: :class:`Summary` (``results/analysis/summary.json``),
  :class:`HeadlineMetrics` (``results/metrics.json``), :class:`Profile` (``data/profile.json``),
  :class:`ParamsCheck` (``results/params_check.json``) and :class:`TrainMetrics` (one training
  run's ``metrics.json``); :data:`DOCUMENTS` lists them;
- **tables** in :data:`TABLES`: every CSV and parquet file, its path (a pattern for one file per
  predictor, seed or split), its columns in order with their dtypes (``text``, ``int``,
  ``float``, ``bool``); CSV stores a ``bool`` column as ``True``/``False`` text. A text column
  of a closed vocabulary (:data:`VOCABULARIES`: ``variant``, ``family``, ``direction``,
  ``gender``, ``profession``) holds only its words, in whichever table; a column naming a
  predictor (:data:`RUN_COLUMNS`) holds predictor names or runs ``<name>@seed<n>``
  (:data:`pipeline.lib.paths.RUN_NAME`).

Checking: :func:`validate` (a JSON document), :func:`check_table` (a table, read or about to be
written), :func:`declared` (what the contract declares for a study path: the dashboard's one
loader checks every file through it). A mismatch raises :class:`ContractError`, a
:class:`~pipeline.lib.errors.SuiteError` of one line.

Paths are decided in :mod:`pipeline.lib.paths`; this module says what is inside them. It loads
no model library (checking params never imports torch).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import GENDERS, PROFESSIONS

# --- closed vocabularies ---------------------------------------------------------------------


class ProbeVariant(StrEnum):
    """How a probe text was made from a test bio (``probes.parquet`` and ``probes.csv``)."""

    SWAPPED = "swapped"  # every gendered word replaced by its counterpart: the label flips
    REMOVED = "removed"  # every gendered word removed: the label stays


class PairFamily(StrEnum):
    """Which family a compared pair belongs to (``pairs.csv`` ``family``)."""

    PRIMARY = "primary"  # analyze.primary, tested alone
    SECONDARY = "secondary"  # every other pair, Holm-adjusted within the family
    # over seeds only (procedure.csv, gap_rms.csv): each mitigated predictor (the catalogue's
    # `erased`) against the predictor it mitigates (its `mitigates`), Holm within the family
    MITIGATION = "mitigation"
    REFERENCE = "reference"  # a pair with an untrained reference: shown, never tested


class ProxyDirection(StrEnum):
    """What the gap-on-share-of-women slope says (``proxy.csv``, ``seed_proxy.csv``)."""

    STEREOTYPED = "stereotype-consistent"  # significant and positive: profession as a proxy
    COUNTER = "counter-stereotypical"  # significant and negative
    NO_EVIDENCE = "no evidence"
    NOT_COMPUTABLE = "not computable"  # too few professions with a gap


# The ``profession`` of the probes table's rows over every profession.
ALL_PROFESSIONS = "all"

# The closed vocabulary of a text column, whichever table holds it: its words and how a
# message names them.
VOCABULARIES: dict[str, tuple[tuple[str, ...], str]] = {
    "variant": (tuple(ProbeVariant), ", ".join(ProbeVariant)),
    "family": (tuple(PairFamily), ", ".join(PairFamily)),
    "direction": (tuple(ProxyDirection), ", ".join(ProxyDirection)),
    "gender": (GENDERS, ", ".join(GENDERS)),
    "profession": (
        (*PROFESSIONS, ALL_PROFESSIONS),
        f"one of the 28 professions or {ALL_PROFESSIONS!r}",
    ),
}


# Columns naming a predictor or one training seed's run of one (``lora@seed1234``), in the form
# pipeline.lib.paths decides (paths.RUN_NAME).
RUN_COLUMNS = ("predictor", "predictor_a", "predictor_b")


# --- errors --------------------------------------------------------------------------------


class ContractError(SuiteError):
    """A file that does not match the contract; ``detail`` is the message without the file."""

    def __init__(self, path: str | Path, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = str(path)
        self.detail = detail


_SHOWN = 40  # characters of a bad value a message shows


def _shown(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = "null" if value is None else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "the top level"


# --- JSON documents ------------------------------------------------------------------------

# Strict scalars: a JSON number is not text, true is not 1, "0.5" is not a number.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Integer = Annotated[int, Field(strict=True)]
Count = Annotated[int, Field(strict=True, ge=0)]
Text = Annotated[str, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Share = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)]


class _Document(BaseModel):
    """A JSON object the suite writes: every field declared, none unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSummary(_Document):
    """``summary.json`` ``data``: where the bios came from."""

    source: Text
    synthetic: Flag
    n_test: Count


class PredictorSummary(_Document):
    """``summary.json`` ``predictors.<name>``: what one predictor (or seed's run) is."""

    label: Text
    description: Text
    kind: Text
    reference: Flag
    model: dict[str, Any]  # the model_info of its predictions' metadata ({} for a baseline)
    probe_verdict: Text | None = None
    warning: Text | None = None


class Settings(_Document):
    """``summary.json`` ``settings``: the analyze params the numbers were made with."""

    confidence: Annotated[float, Field(strict=True, gt=0, lt=1)]
    alpha: Annotated[float, Field(strict=True, gt=0, lt=1)]
    min_group_size: Count
    primary: list[Text] | None
    training_seeds: dict[str, list[Integer]]


class SmallCell(_Document):
    """A profession x gender cell with fewer test bios than ``analyze.min_group_size``."""

    profession: Literal[PROFESSIONS]  # type: ignore[valid-type]
    gender: Literal[GENDERS]  # type: ignore[valid-type]
    n: Count


class Cells(_Document):
    """``summary.json`` ``cells``: how many profession x gender cells are too small."""

    small: Count
    with_bios: Count
    small_cells: list[SmallCell]


class Summary(_Document):
    """``results/analysis/summary.json``: the data, predictors, settings, notes and run."""

    # What the study predicts (pipeline.lib.tasks); written only for a task other than gender.
    task: Literal["gender", "occupation"] = "gender"
    data: DataSummary
    predictors: dict[str, PredictorSummary]
    settings: Settings
    cells: Cells
    notes: list[Text]
    toy_model: Text | None
    # The gender task's check of LEACE, per `erased` predictor: at the majority rate or not.
    erasure_checks: dict[str, Text] = {}
    run: dict[str, Any] | None = None  # provenance (pipeline.lib.provenance.run_metadata)


class Primary(_Document):
    """``metrics.json`` ``primary``: the primary comparison (over seeds when it has several)."""

    acc_diff: Number | None
    acc_diff_ci_low: Number | None
    acc_diff_ci_high: Number | None
    p_value: Number | None
    n_seeds: Count | None = None
    seeds_significant: Count | None = None
    ci_method: Literal["multi-bootstrap"] | None = None


class HeadlineMetrics(BaseModel):
    """``results/metrics.json``: ``{predictor or run: {metric: number}}`` and ``primary``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, dict[str, Number | None]] = Field(init=False)

    primary: Primary | None = None


class ProfessionCounts(_Document):
    """``profile.json`` ``splits.<split>.professions.<name>``: bios per gender."""

    male: Count
    female: Count
    share_women: Share | None  # null: no bio of the profession in the split


class SplitProfile(_Document):
    """``profile.json`` ``splits.<split>``: rows, share of women, counts per profession."""

    rows: Count
    share_women: Share | None
    professions: dict[str, ProfessionCounts]

    @field_validator("professions", mode="before")
    @classmethod
    def _every_profession(cls, value: Any) -> Any:
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(PROFESSIONS))
            if unknown:
                raise ValueError(f"unknown profession {unknown[0]!r}")
            absent = [name for name in PROFESSIONS if name not in value]
            if absent:
                raise ValueError(f"profession {absent[0]!r} missing")
        return value


class Profile(_Document):
    """``data/profile.json`` (the prepare stage): where the bios came from, counts per split."""

    source: Text
    synthetic: Flag
    splits: dict[Literal[paths.SPLITS], SplitProfile]  # type: ignore[valid-type]

    @field_validator("splits", mode="before")
    @classmethod
    def _has_train(cls, value: Any) -> Any:
        if isinstance(value, dict) and "train" not in value:
            raise ValueError("no 'train' split (the analysis takes the share of women from it)")
        return value


class ParamsCheck(_Document):
    """``results/params_check.json``: the check_params stage's record (constant bytes)."""

    checked_by: Text
    params_file: Text
    valid: Literal[True]


class TrainMetrics(BaseModel):
    """One training run's ``metrics.json`` (DVC metrics): its dev selection, numbers only."""

    # A trainer may report more numbers than these; each is a number.
    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Number | None] = Field(init=False)

    best_step: Count | None  # the step whose weights were kept (null: the last)
    dev_accuracy: Number | None  # at best_step
    dev_loss: Number | None = None
    steps: Count | None = None
    trainable_params: Count | None = None


# Every JSON document the suite writes, by path (a pattern for one per training seed).
DOCUMENTS: dict[str, type[BaseModel]] = {
    paths.ANALYSIS_SUMMARY.as_posix(): Summary,
    paths.ANALYSIS_METRICS.as_posix(): HeadlineMetrics,
    paths.PROFILE.as_posix(): Profile,
    paths.PARAMS_CHECK.as_posix(): ParamsCheck,
    (paths.TRAINED_RESULTS_DIR / "{predictor}" / "{seed_folder}" / "metrics.json").as_posix(): (
        TrainMetrics
    ),
}


def _detail(error: ValidationError, value: Any) -> str:
    """One line naming the first bad field of ``value`` and what is wrong with it."""
    first = error.errors(include_url=False)[0]
    where = _field(first["loc"])
    if first["type"] == "missing":
        return f"{where} is missing"
    if first["type"] == "extra_forbidden":
        return f"{where} is not a field of this file (renamed, or written by another version)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "value_error":
        return f"{where}: {message}"
    return f"{where} is {_shown(first['input'])} ({message[:1].lower()}{message[1:]})"


def validate(model: type[BaseModel], value: Any, path: str | Path) -> BaseModel:
    """``value`` (a JSON document read from or written to ``path``) as ``model``.

    Raises :class:`ContractError`: one line naming ``path`` and the first bad field.
    """
    try:
        return model.model_validate(value)
    except ValidationError as err:
        raise ContractError(path, _detail(err, value)) from None


def checked(model: type[BaseModel], value: Any, path: str | Path) -> Any:
    """``value`` itself once it matches ``model`` (what a writer writes, unchanged)."""
    validate(model, value, path)
    return value


# --- tables --------------------------------------------------------------------------------

TEXT, INT, FLOAT, BOOL = "text", "int", "float", "bool"
DTYPES = (TEXT, INT, FLOAT, BOOL)


@dataclass(frozen=True)
class TableSpec:
    """One table the suite writes: where, which columns in which order, of which dtype."""

    name: str
    path: str  # relative to the study; a pattern holds {predictor}, {split} or {seed_folder}
    dtypes: Mapping[str, str]  # column -> one of DTYPES, in the order of the file
    made_by: str  # the stage that writes it (named in the fix)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns in the order of the file."""
        return tuple(self.dtypes)

    @property
    def booleans(self) -> tuple[str, ...]:
        """The columns of True/False (text in a CSV file)."""
        return tuple(c for c, dtype in self.dtypes.items() if dtype == BOOL)

    def of(self, dtype: str) -> tuple[str, ...]:
        """The columns of one dtype."""
        return tuple(c for c, kind in self.dtypes.items() if kind == dtype)

    def file(self, **names: Any) -> Path:
        """The path of one file of the table, e.g. ``file(predictor="zero_shot")``."""
        return Path(self.path.format(**names))


def _columns(spec: str) -> dict[str, str]:
    """``"predictor:text n:int"`` -> ``{"predictor": "text", "n": "int"}``."""
    pairs = [item.split(":") for item in spec.split()]
    if not all(len(pair) == 2 and pair[1] in DTYPES for pair in pairs):
        raise RuntimeError(f"bad table declaration {spec!r}: expected name:dtype items")
    return dict(pairs)


_ANALYSIS = paths.ANALYSIS_DIR.as_posix()
_ANALYSIS_TABLES = {
    "overall": "predictor:text metric:text value:float ci_low:float ci_high:float "
    "ci_method:text n:int",
    "pairs": "predictor_a:text predictor_b:text family:text n:int both_correct:int "
    "a_only_correct:int b_only_correct:int both_wrong:int acc_a:float acc_b:float "
    "acc_diff:float diff_ci_low:float diff_ci_high:float ci_level:float p_value:float "
    "p_adjusted:float significant:bool verdict:text",
    "groups": "predictor:text profession_id:int profession:text gender:text n:int errors:int "
    "error_rate:float error_ci_low:float error_ci_high:float tpr:float small:bool",
    "gaps": "predictor:text profession_id:int profession:text n_female:int n_male:int "
    "correct_female:int correct_male:int tpr_female:float tpr_male:float gap:float "
    "gap_ci_low:float gap_ci_high:float p_value:float p_holm:float p_bh:float "
    "significant:bool evidence:float small:bool share_women:float",
    "proxy": "predictor:text n_professions:int pearson_r:float pearson_p:float "
    "spearman_rho:float spearman_p:float slope:float slope_stderr:float intercept:float "
    "direction:text verdict:text",
    "calibration": "predictor:text bin:int mean_predicted:float fraction_female:float count:int "
    "bin_low:float bin_high:float",
    "probes": "predictor:text profession:text variant:text n:int flips:int flip_rate:float "
    "flip_ci_low:float flip_ci_high:float accuracy:float accuracy_ci_low:float "
    "accuracy_ci_high:float accuracy_original:float",
    # Comparisons at the level of the procedure (mean over training seeds, with the
    # Multi-Bootstrap over seeds and test bios): analyze.primary when it has a seeded side
    # (family primary), then every other trained predictor against both of its sides (family
    # secondary, Holm-adjusted).
    "procedure": "predictor_a:text predictor_b:text family:text n_seeds:int n_bios:int "
    "resamples:int acc_a:float acc_b_mean:float acc_diff:float diff_ci_low:float "
    "diff_ci_high:float ci_level:float p_value:float p_adjusted:float significant:bool "
    "sd_joint:float sd_seeds:float "
    "sd_bios:float seed_share:float seeds_significant:int verdict:text variance_verdict:text",
    # Every headline metric across the training seeds of each seeded predictor.
    "seeds": "predictor:text metric:text n_seeds:int mean:float sd:float min:float max:float",
    # Each profession's TPR gap at the level of the procedure (mean over seeds, Multi-Bootstrap):
    # stable when its interval excludes 0; seeds_significant counts the single-seed gaps that
    # were significant (gaps.csv, Holm across professions).
    "seed_gaps": "predictor:text profession_id:int profession:text n_seeds:int gap:float "
    "gap_ci_low:float gap_ci_high:float p_value:float stable:bool seeds_significant:int "
    "small:bool",
    # The proxy-bias slope (gap on the share of women) at the level of the procedure.
    "seed_proxy": "predictor:text n_seeds:int n_professions:int slope:float slope_ci_low:float "
    "slope_ci_high:float p_value:float direction:text verdict:text",
    # The occupation task's (pipeline.lib.tasks): GAP^RMS (the root mean square of the
    # per-occupation TPR gaps) compared at the level of the procedure, as in "procedure".
    "gap_rms": "predictor_a:text predictor_b:text family:text n_seeds:int n_bios:int "
    "resamples:int gap_rms_a:float gap_rms_b:float diff:float diff_ci_low:float "
    "diff_ci_high:float ci_level:float p_value:float p_adjusted:float significant:bool "
    "verdict:text",
    # The occupation task's: every overall metric of each predictor on the probed bios as they
    # are (version "unchanged") and with their gendered words removed ("scrubbed", De-Arteaga's
    # scrubbed bios): how much of the gap the explicit gender indicators carry.
    "scrubbed": "predictor:text version:text metric:text value:float ci_low:float "
    "ci_high:float ci_method:text n:int",
    # Gender leakage (the erase stage's probes, results/leakage/): per representation, a linear
    # gender probe's accuracy on the test bios from the representation as it is ("as is") and
    # with gender erased by LEACE ("erased"), against the majority rate: the test share of the
    # train split's majority gender, what always answering it scores.
    # An erased row also gives its difference from the row as is (erased - as is, same bios:
    # a paired bootstrap over the test bios, analyze.bootstrap_resamples, seeds.bootstrap).
    "leakage": "representation:text version:text n:int correct:int accuracy:float "
    "ci_low:float ci_high:float majority_gender:text majority_rate:float diff:float "
    "diff_ci_low:float diff_ci_high:float p_value:float verdict:text",
}
# The analysis tables of each task, in the order the analyze stage writes them. The occupation
# task has no reliability curve of P(female) (its calibration is the top-label ECE of overall).
_OCCUPATION_ONLY = ("gap_rms", "scrubbed")
ANALYSIS_TABLES = tuple(name for name in _ANALYSIS_TABLES if name not in _OCCUPATION_ONLY)
TASK_TABLES = {
    "gender": ANALYSIS_TABLES,
    "occupation": tuple(name for name in _ANALYSIS_TABLES if name != "calibration"),
}
# Per-predictor data of DVC's top-level plots (one panel per predictor), and the columns of the
# analysis table that must be defined for a point to be drawn.
PLOTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "gaps": (
        "gaps",
        "profession:text gap:float gap_ci_low:float gap_ci_high:float small:bool",
        ("gap",),
    ),
    "proxy": ("gaps", "profession:text share_women:float gap:float", ("share_women", "gap")),
    "calibration": (
        "calibration",
        "bin:int mean_predicted:float fraction_female:float count:int",
        ("mean_predicted",),
    ),
}

TABLES: dict[str, TableSpec] = {
    **{
        name: TableSpec(name, f"{_ANALYSIS}/{name}.csv", _columns(spec), "analyze")
        for name, spec in _ANALYSIS_TABLES.items()
    },
    **{
        f"plot_{plot}": TableSpec(
            f"plot_{plot}",
            paths.analysis_plot_path(plot, "{predictor}").as_posix(),
            _columns(spec),
            "analyze",
        )
        for plot, (_, spec, _) in PLOTS.items()
    },
    "split": TableSpec(
        "split",
        paths.split_path("{split}").as_posix(),
        _columns("id:text text:text profession_id:int profession:text gender_id:int gender:text"),
        "prepare",
    ),
    "probe_texts": TableSpec(
        "probe_texts",
        paths.PROBES_FILE.as_posix(),
        _columns(
            "id:text source_id:text variant:text text:text expected_gender_id:int n_replaced:int"
        ),
        "probe",
    ),
    # One schema for every predictor (pipeline.lib.prediction_files), on the test split and on
    # the probe texts.
    **{
        name: TableSpec(
            name,
            where("{predictor}").as_posix(),
            _columns(
                "id:text predictor:text prob_female:float pred:int model:text params_hash:text"
            ),
            stage,
        )
        for name, where, stage in (
            ("predictions", paths.predictions_path, "predict"),
            ("probe_predictions", paths.probe_predictions_path, "predict"),
        )
    },
    # The erase stage's gender probes (pipeline.lib.erasure): on every test bio, the probe's
    # answer from the representation as it is and from the erased one (0 male, 1 female).
    "leakage_probes": TableSpec(
        "leakage_probes",
        paths.leakage_path("{predictor}").as_posix(),
        _columns("id:text gender_id:int pred:int pred_erased:int"),
        "erase",
    ),
    "history": TableSpec(
        "history",
        (paths.TRAINED_RESULTS_DIR / "{predictor}" / "{seed_folder}" / "history.csv").as_posix(),
        {c: INT if c == "step" else FLOAT for c in paths.HISTORY_COLUMNS},
        "train",
    ),
}


# The occupation task's predictions (pipeline.lib.tasks), at the same paths as the gender task's
# (a study has one task): the predicted profession id and its probability (the top label's;
# what top-label calibration reads). Kept out of TABLES, whose paths each name one table.
CLASS_PREDICTIONS: dict[str, TableSpec] = {
    name: TableSpec(
        name,
        where("{predictor}").as_posix(),
        _columns("id:text predictor:text pred:int confidence:float model:text params_hash:text"),
        "predict",
    )
    for name, where in (
        ("occupation_predictions", paths.predictions_path),
        ("occupation_probe_predictions", paths.probe_predictions_path),
    )
}


def _integral(values: pd.Series) -> pd.Series:
    with np.errstate(invalid="ignore"):
        return values.isna() | (values % 1 == 0)


def _first_bad(frame: pd.DataFrame, bad: np.ndarray | pd.Series) -> tuple[Any, Any]:
    position = int(np.flatnonzero(np.asarray(bad, dtype=bool))[0])
    label = frame.index[position]
    return (label.item() if isinstance(label, np.generic) else label), position


def check_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    path: str | Path,
    *,
    exact: bool = False,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """``frame`` (read from or written to ``path``) with its columns checked against ``spec``.

    Every column of ``spec`` (or of ``columns``, those a reader took) must be there (``exact``:
    nothing else, in ``spec``'s order, as a writer must write it); a ``text`` column holds text
    or nothing, an ``int`` column whole numbers or nothing, a ``float`` column numbers or
    nothing, a ``bool`` column True/False or nothing. Returned with CSV text turned into what
    it stands for: numbers and nullable booleans (an empty cell, e.g. an untested pair, stays
    missing, not False). Raises
    :class:`ContractError`: one line naming ``path``, the column and the first bad row.
    """
    wanted = spec.columns if columns is None else tuple(columns)
    unknown = [column for column in wanted if column not in spec.dtypes]
    if unknown:
        raise ValueError(f"the {spec.name} table has no column {unknown[0]!r}")
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        raise ContractError(
            path,
            f"missing column {missing[0]!r} (the {spec.name} table has the columns "
            f"{', '.join(spec.columns)}; remake it with `dvc repro {spec.made_by}`)",
        )
    if exact and tuple(frame.columns) != spec.columns:
        raise ContractError(
            path,
            f"columns {', '.join(map(str, frame.columns))}, expected {', '.join(spec.columns)}",
        )
    out = frame.copy()
    for column in wanted:
        out[column] = _checked_column(out, column, spec.dtypes[column], path)
    return out


def _refuse_cell(
    frame: pd.DataFrame,
    values: pd.Series,
    column: str,
    bad: np.ndarray | pd.Series,
    path: str | Path,
    expected: str,
) -> None:
    """Raise for the first ``bad`` cell of ``column``: its value, its row, what was expected."""
    row, position = _first_bad(frame, bad)
    raise ContractError(
        path,
        f"column {column!r} holds {_shown(values.iloc[position])} at row {row}, "
        f"expected {expected}",
    )


def _checked_column(frame: pd.DataFrame, column: str, dtype: str, path: str | Path) -> pd.Series:
    values = frame[column]
    if dtype == BOOL:
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean")
        text = values.astype("string").str.strip().str.lower()
        known = text.isna() | (text == "") | text.isin(["true", "false"])
        if not known.all():
            _refuse_cell(frame, values, column, ~known, path, "True or False")
        return text.map({"true": True, "false": False}).astype("boolean")
    if dtype == TEXT:
        present = values.dropna()
        if len(present) and not present.map(lambda v: isinstance(v, str)).all():
            # A column read from CSV is text unless every cell looked like a number.
            bad = values.map(lambda v: not (isinstance(v, str) or pd.isna(v)))
            _refuse_cell(frame, values, column, bad, path, "text")
        if column in RUN_COLUMNS:
            unknown = values.notna() & ~values.astype(str).str.fullmatch(paths.RUN_NAME.pattern)
            if unknown.any():
                expected = "a predictor name or a run <name>@seed<n>"
                _refuse_cell(frame, values, column, unknown, path, expected)
        if column in VOCABULARIES:
            words, named = VOCABULARIES[column]
            unknown = values.notna() & ~values.isin(words)
            if unknown.any():
                _refuse_cell(frame, values, column, unknown, path, named)
        return values
    if pd.api.types.is_bool_dtype(values):
        row, position = _first_bad(frame, np.ones(len(values), dtype=bool))
        raise ContractError(
            path, f"column {column!r} holds True/False at row {row}, expected numbers"
        )
    if pd.api.types.is_numeric_dtype(values):
        numbers = values
    else:
        text = values.astype("string").str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = (numbers.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
        if bad.any():
            row, position = _first_bad(frame, bad)
            raise ContractError(
                path,
                f"column {column!r} holds text ({str(values.iloc[position])[:_SHOWN]!r}) at row "
                f"{row}, expected numbers",
            )
    if dtype == INT and not _integral(numbers).all():
        _refuse_cell(frame, numbers, column, ~_integral(numbers), path, "whole numbers")
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    if infinite.any():
        row, _ = _first_bad(frame, infinite)
        raise ContractError(path, f"column {column!r} is infinite at row {row}, expected numbers")
    return numbers


def _glob(pattern: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "*", pattern)


def declared(path: str | Path) -> TableSpec | type[BaseModel] | None:
    """What the contract declares for ``path`` (relative to the study), or None.

    A :class:`TableSpec` for a table, a model for a JSON document, None for any other file
    (the reports, model folders).
    """
    rel = Path(path).as_posix()
    for spec in TABLES.values():
        if fnmatchcase(rel, _glob(spec.path)):
            return spec
    for pattern, model in DOCUMENTS.items():
        if fnmatchcase(rel, _glob(pattern)):
            return model
    return None
