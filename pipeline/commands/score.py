"""Score bios you type: every predictor of a study on each bio and on its two probes.

    python -m pipeline.commands.score "She has practised dentistry in Lyon for ten years."
    python -m pipeline.commands.score --file bios.txt          # one bio a line ("-" reads stdin)
    python -m pipeline.commands.score --study demo --json "..."  # from elsewhere; JSON for machines

For each bio it scores the bio as typed and its two counterfactual probes (gendered words
swapped, gendered words removed: :mod:`pipeline.lib.gendered_words`, the probe stage's own code),
with every predictor of the catalogue, through the suite's own paths: the model predictors
through :mod:`pipeline.lib.model_predictors` and
:func:`pipeline.lib.model_predictors.predict_frame` with the study's
``predict`` params (so a bio gets the number the predict stage gives it), the baselines fitted
on the study's train split with its ``baselines`` params, as the baselines stage fits them.
A missing model or split stops with one line naming the stage that makes it. A seeded
predictor (LoRA) is scored with every run of ``seeds.train``, one row per seed
(``lora@seed<n>``): the runs of one procedure can disagree on a bio, and all are shown, then,
with two seeds or more, a row with the mean of the seeds' P(female) (:func:`seed_means`): a
summary of the procedure, not a model of its own. In ``--json`` every prediction says whether
its predictor is an untrained reference (``"reference": true``) and the means are under
``"seed_means"``, apart from the predictors.

The dashboard's "Try a bio" page uses :class:`BioScorer` too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.lib import catalogue, paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.gendered_words import PROBE_VARIANTS
from pipeline.lib.labels import GENDERS
from pipeline.lib.params import PARAMS_FILE, StageParams, read_params
from pipeline.lib.prediction_files import THRESHOLD
from pipeline.lib.provenance import params_hash
from pipeline.lib.tables import read_split

if TYPE_CHECKING:
    from pipeline.lib.model_predictors import LoadContext, Predictor
    from pipeline.lib.runtime import Runtime

# torch, transformers, scikit-learn and the analysis are imported where the models and
# baselines load (BioScorer), so that a bad bio or file is refused in a fraction of a second.

VARIANTS = ("original", *PROBE_VARIANTS)
# truncated: the model read only predict.max_length tokens of the text (baselines read it all)
COLUMNS = ("bio", "variant", "text", "predictor", "prob_female", "pred", "label", "truncated")
REPO = Path(__file__).resolve().parents[2]


def variants(text: str) -> dict[str, str]:
    """The bio as typed and its two probes, as the probe stage makes them."""
    return {"original": text} | {
        name: rewrite(text)[0] for name, (rewrite, _) in PROBE_VARIANTS.items()
    }


@dataclass
class _Model:
    predictor: Predictor
    batch_size: int
    identity: str


class BioScorer:
    """Every predictor of one study, loaded once, scoring typed bios and their probes."""

    def __init__(self, study: str | Path, device: str | None = None) -> None:
        from analysis.verdicts import toy_model_notice
        from pipeline.lib.baseline_predictors import BASELINES
        from pipeline.lib.baseline_predictors import params_keys as baseline_params
        from pipeline.lib.model_predictors import DEFAULT_BATCH_SIZE, LoadContext, params_keys
        from pipeline.lib.runtime import make_runtime

        self.study = Path(study).resolve()
        raw = read_params(self.study / PARAMS_FILE)
        self.models: dict[str, _Model] = {}
        self.max_length = 0  # predict.max_length: the tokens a model reads of a bio
        runtime: Runtime | None = None
        seeds = StageParams(raw, ["seeds.train"], str(self.study / PARAMS_FILE))["seeds.train"]
        for name in catalogue.names("model"):
            params = StageParams(raw, params_keys(name), str(self.study / PARAMS_FILE))
            runtime = runtime or make_runtime(device or params["predict.device"])
            # A seeded predictor scores with every run of seeds.train: all are shown, by seed.
            runs = [None] if not catalogue.spec(name).seeded else seeds
            for seed in runs:
                context = LoadContext(
                    params,
                    runtime,
                    base_dir=self.study / paths.BASE_MODEL_DIR,
                    seed=seed,
                    run_dir=None if seed is None else self.study / paths.trained_dir(name, seed),
                )
                predictor = _load(name, context, seed)
                self.max_length = params["predict.max_length"]
                batch = params["predict.batch_size"] or DEFAULT_BATCH_SIZE[runtime.device.type]
                self.models[predictor.name] = _Model(
                    predictor, batch, params_hash(params.as_dict())
                )
        self.runtime = runtime
        # Said wherever these scores are shown: the tiny GPT-2 is a toy (analysis.verdicts).
        self.toy_notice = toy_model_notice(
            {name: model.predictor.model_info for name, model in self.models.items()}
        )
        train_file = self.study / paths.split_path("train")
        if not train_file.is_file():
            raise SuiteError(f"{train_file}: not found; run the prepare stage first (dvc repro)")
        train = read_split(train_file, ("text", "gender_id"))  # one line if corrupt
        train = train.rename(columns={"gender_id": "label"})  # score: the gender task
        self.baselines = {}
        for name in catalogue.names("baseline"):
            params = StageParams(raw, baseline_params(name), str(self.study / PARAMS_FILE))
            self.baselines[name] = BASELINES[name](train, params[f"baselines.{name}"])[0]

    def score(self, bios: Sequence[str]) -> pd.DataFrame:
        """One row per bio x variant x predictor (columns :data:`COLUMNS`), catalogue order."""
        from pipeline.lib.model_predictors import predict_frame

        texts = [
            (i, variant, text)
            for i, bio in enumerate(bios)
            for variant, text in variants(bio).items()
        ]
        if not texts:
            return pd.DataFrame(columns=list(COLUMNS))
        ids = [f"{i}:{variant}" for i, variant, _ in texts]
        strings = [text for _, _, text in texts]
        probs: dict[str, pd.Series] = {}
        truncated: dict[str, pd.Series] = {}
        for name, model in self.models.items():
            encoded = model.predictor.scorer.encode(strings)
            truncated[name] = pd.Series(encoded.truncated, index=ids)
            frame = predict_frame(
                ids,
                strings,
                model.predictor,
                self.runtime,
                model.batch_size,
                model.identity,
                progress=False,
            ).frame
            probs[name] = frame.set_index("id")["prob_female"]
        for name, scorer in self.baselines.items():
            probs[name] = pd.Series(scorer(strings), index=ids)
            truncated[name] = pd.Series(False, index=ids)
        rows = []
        names = catalogue.order(list(probs))  # a seeded predictor's runs by seed (lora@seed<n>)
        for key, (i, variant, text) in zip(ids, texts, strict=True):
            for name in names:
                prob = float(probs[name][key])
                pred = int(prob >= THRESHOLD)
                cut = bool(truncated[name][key])
                rows.append((i, variant, text, name, prob, pred, GENDERS[pred], cut))
        return pd.DataFrame(rows, columns=list(COLUMNS))


def _load(name: str, context: LoadContext, seed: int | None = None) -> Predictor:
    from pipeline.lib.model_predictors import load_predictor

    try:
        return load_predictor(name, context)
    except SuiteError as err:
        stage = catalogue.train_stage(name, seed) if seed is not None else "base_model"
        raise SuiteError(f"{name}: {err}".rstrip(".") + f" (made by the {stage} stage)") from None


# Characters of a bio echoed back (CLI and "Try a bio"): a 20,000-character bio is not repeated.
ECHO_CHARS = 300


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` up to ``limit`` characters, saying how many more there are."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def _truncated_by(part: pd.DataFrame) -> list[str]:
    """The predictors that read only part of a bio (its original text)."""
    original = part[(part["variant"] == "original") & part["truncated"]]
    return list(dict.fromkeys(original["predictor"]))


def seed_means(scores: pd.DataFrame) -> pd.DataFrame:
    """The mean P(female) over the runs of each seeded predictor, per bio and variant.

    Columns ``bio``, ``variant``, ``predictor`` (the procedure, e.g. ``lora``), ``prob_female``,
    ``pred``, ``label`` (the mean thresholded like any P(female)) and ``n_seeds``; only for a
    predictor with two runs or more (one run's mean is the run). Not a model: the runs are
    averaged here, no ensemble was trained or evaluated.
    """
    columns = ["bio", "variant", "predictor", "prob_female", "pred", "label", "n_seeds"]
    split = [paths.split_run(name) for name in scores["predictor"]]
    runs = scores.assign(procedure=[b for b, _ in split], seed=[seed for _, seed in split])
    runs = runs[runs["seed"].notna()]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    means = (
        runs.groupby(["bio", "variant", "procedure"], sort=False)
        .agg(prob_female=("prob_female", "mean"), n_seeds=("predictor", "nunique"))
        .reset_index()
        .rename(columns={"procedure": "predictor"})
    )
    means = means[means["n_seeds"] >= 2].copy()
    means["pred"] = (means["prob_female"] >= THRESHOLD).astype(int)
    means["label"] = [GENDERS[pred] for pred in means["pred"]]
    return means[columns].reset_index(drop=True)


def _mean_label(procedure: str) -> str:
    return f"{procedure}: mean over seeds"


def render_text(
    scores: pd.DataFrame, bios: Sequence[str], notice: str | None = None, max_length: int = 0
) -> str:
    """A table per bio: P(female) and the label of every predictor on each variant.

    ``notice`` (the toy-model notice) comes first; ``max_length`` is predict.max_length, named
    where a bio was truncated.
    """
    lines = [notice, ""] if notice else []
    names = catalogue.order(set(scores["predictor"]))
    means = seed_means(scores)
    # each procedure's mean row comes right after its last run
    last_run = {paths.split_run(name)[0]: name for name in names}
    width = max(len(name) for name in [*names, *map(_mean_label, means["predictor"])]) + 2
    for i, bio in enumerate(bios):
        part = scores[scores["bio"] == i]
        lines.append(f"bio {i + 1}: {shorten(bio)}")
        for variant in VARIANTS[1:]:
            text = part.loc[part["variant"] == variant, "text"].iloc[0]
            lines.append(f"  {variant}: {shorten(text)}")
        lines.append("  " + "predictor".ljust(width) + "".join(v.ljust(18) for v in VARIANTS))
        for name in names:
            row = part[part["predictor"] == name].set_index("variant")
            cells = "".join(
                f"{row.loc[v, 'prob_female']:.3f} {row.loc[v, 'label']}".ljust(18) for v in VARIANTS
            )
            mark = " (untrained reference)" if catalogue.is_reference(name) else ""
            lines.append(f"  {name.ljust(width)}{cells}{mark}")
            procedure = paths.split_run(name)[0]
            mean = means[(means["bio"] == i) & (means["predictor"] == procedure)]
            if last_run[procedure] == name and not mean.empty:
                mean = mean.set_index("variant")
                cells = "".join(
                    f"{mean.loc[v, 'prob_female']:.3f} {mean.loc[v, 'label']}".ljust(18)
                    for v in VARIANTS
                )
                seeds = int(mean["n_seeds"].iloc[0])
                lines.append(
                    f"  {_mean_label(procedure).ljust(width)}{cells}"
                    f" (mean of the {seeds} seeds' P(female), not a model)"
                )
        cut = _truncated_by(part)
        if cut:
            lines.append(
                f"  longer than predict.max_length ({max_length} tokens): {', '.join(cut)} "
                "read only part of it"
            )
        lines.append("")
    originals = scores[scores["variant"] == "original"]
    cut_bios = int(originals.groupby("bio")["truncated"].any().sum())
    if cut_bios:
        lines.append(
            f"{cut_bios} of {len(bios)} bio{'s' if len(bios) != 1 else ''} longer than "
            f"predict.max_length ({max_length} tokens), read in part by the language models."
        )
    lines.append("P(female) and the predicted gender; swapped / removed: the bio with its gendered")
    lines.append("words swapped / removed, as the probe stage rewrites test bios.")
    return "\n".join(lines)


def render_json(scores: pd.DataFrame, bios: Sequence[str]) -> str:
    """The same as JSON: one object per bio with its variants and every prediction.

    Each prediction says whether its predictor is an untrained reference (``reference``).
    ``seed_means`` holds, per seeded predictor with two runs or more, the mean of its runs'
    P(female) on each variant (:func:`seed_means`): kept apart from ``predictions``, which
    holds only predictors.
    """
    means = seed_means(scores)
    out = []
    for i, bio in enumerate(bios):
        part = scores[scores["bio"] == i]
        mean_part = means[means["bio"] == i]
        out.append(
            {
                "bio": bio,
                "variants": {v: part.loc[part["variant"] == v, "text"].iloc[0] for v in VARIANTS},
                "predictions": {
                    name: {
                        row["variant"]: {
                            "prob_female": row["prob_female"],
                            "pred": row["pred"],
                            "label": row["label"],
                            "truncated": bool(row["truncated"]),
                            "reference": catalogue.is_reference(name),
                        }
                        for row in part[part["predictor"] == name].to_dict(orient="records")
                    }
                    for name in catalogue.order(set(part["predictor"]))
                },
                "seed_means": {
                    procedure: {
                        row["variant"]: {
                            "prob_female": float(row["prob_female"]),
                            "pred": int(row["pred"]),
                            "label": row["label"],
                            "n_seeds": int(row["n_seeds"]),
                        }
                        for row in group.to_dict(orient="records")
                    }
                    for procedure, group in mean_part.groupby("predictor", sort=False)
                },
            }
        )
    return json.dumps(out, indent=2)


def _check_utf8_argument(bio: str, number: int) -> None:
    """Stop with one line when a command-line bio was not UTF-8 bytes.

    Python hands undecodable argument bytes over as lone surrogates (surrogateescape), which
    would fail later, in the tokenizer or the output, with a traceback.
    """
    try:
        bio.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(bio)
        try:
            raw.decode("utf-8")
            detail = ""
        except UnicodeDecodeError as err:
            detail = f" (byte 0x{raw[err.start]:02x} at byte {err.start})"
        raise SuiteError(
            f"the arguments: bio {number} is not UTF-8 text{detail}; type it in a UTF-8 "
            "terminal, or save the bios as UTF-8 and pass --file FILE"
        ) from None


def read_bios(args: argparse.Namespace) -> list[str]:
    """Bios from the arguments, a file (one a line) or stdin; an empty bio stops with one line.

    A file's blank last line (a final newline) is not a bio; a blank line between bios is
    refused rather than dropped, so bio N of the output is line N of the file.
    """
    if args.file:
        expected = "UTF-8 text, one bio a line"
        if args.file == "-":
            where, raw = "stdin", sys.stdin.buffer.read()
        else:
            path = Path(args.file)
            if not path.is_file():
                raise SuiteError(f"{path}: no such file of bios (one bio a line)")
            where, raw = str(path), path.read_bytes()
        if b"\0" in raw:
            raise SuiteError(f"{where}: a binary file (NUL bytes), expected {expected}")
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as err:
            line = raw.count(b"\n", 0, err.start) + 1
            raise SuiteError(
                f"{where}: not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}), "
                f"expected {expected}; save it as UTF-8"
            ) from None
        lines = text.splitlines()
        kind = "line"
    else:
        where, lines, kind = "the arguments", list(args.bios), "bio"
        for number, bio in enumerate(lines, start=1):
            _check_utf8_argument(bio, number)
    if not lines:
        raise SuiteError("no bio to score: give bios as arguments, --file FILE or --file -")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            fix = "one non-empty bio per line" if kind == "line" else "each bio as non-empty text"
            raise SuiteError(
                f"{where}: {kind} {number} is empty; give {fix} "
                "(an empty one would be scored as nothing)"
            )
    return [line.strip() for line in lines]


def main() -> None:
    """Score typed bios with every predictor of a study."""
    parser = argparse.ArgumentParser(description="Score your own bios with every predictor.")
    parser.add_argument("bios", nargs="*", help="bios to score (quote each one)")
    parser.add_argument("--file", help="a file with one bio a line; - reads stdin")
    parser.add_argument("--study", default=".", help="the study directory (default: here)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override predict.device")
    parser.add_argument(
        "--verbose", action="store_true", help="log progress (model loading...) on stderr"
    )
    args = parser.parse_args()
    # The table alone on stdout; the loading log only when asked for (warnings always).
    logging.getLogger().setLevel(logging.INFO if args.verbose else logging.WARNING)
    bios = read_bios(args)
    try:
        scorer = BioScorer(args.study, args.device)
    except SuiteError as err:
        demo = REPO / "demo"
        if Path(args.study).resolve() == REPO and (demo / paths.BASE_MODEL_DIR).is_dir():
            raise SuiteError(f"{err}; to score with the demo's models, add --study demo") from None
        raise
    scores = scorer.score(bios)
    if args.json:
        if scorer.toy_notice:
            print(f"note: {scorer.toy_notice}", file=sys.stderr)
        print(render_json(scores, bios))
    else:
        print(render_text(scores, bios, scorer.toy_notice, scorer.max_length))


if __name__ == "__main__":
    run_main(main)
