"""``probe`` stage: counterfactual versions of test bios, for every predictor to be run on.

Two variants of each chosen test bio (see :mod:`pipeline.lib.gendered_words` for the word lists and
the her -> his/him heuristic):

- ``swapped``: every gendered word swapped (he <-> she, his <-> her, Mr <-> Ms, husband <-> wife,
  ...). ``expected_gender_id`` is the flipped label: a model that reads the words flips its answer.
- ``removed``: gendered words replaced by neutral ones (singular they, spouse, parent...; titles
  dropped). ``expected_gender_id`` is the original label: what is left are the other cues.

Names are never changed. A bio in which no gendered word was found is left out of both variants
(its "probe" would be the original text and would only dilute the flip rate); the log says how
many. Writes ``data/probes/probes.parquet`` with columns ``id`` (``<source_id>::<variant>``),
``source_id``, ``variant``, ``text``, ``expected_gender_id``, ``n_replaced``.

Run from a study directory: ``python -m pipeline.probe`` (params: ``probe``, ``seeds.data``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.lib import contract, paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.gendered_words import PROBE_VARIANTS
from pipeline.lib.io import write_parquet
from pipeline.lib.params import load_stage_params
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.tables import read_split

log = logging.getLogger(__name__)

PARAMS = ("probe", "seeds.data")
COLUMNS = contract.TABLES["probe_texts"].columns


def choose_bios(test: pd.DataFrame, max_bios: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of ``max_bios`` test bios (all when None), in split order."""
    if max_bios is None or max_bios >= len(test):
        return test
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(test), size=max_bios, replace=False))
    return test.iloc[keep]


def make_probes(test: pd.DataFrame) -> pd.DataFrame:
    """Both probe variants of every bio in ``test`` that has at least one gendered word."""
    for column in ("id", "text", "gender_id"):
        if column not in test.columns:
            raise SuiteError(f"test split has no column {column!r}; rerun the prepare stage")
    rows = []
    skipped = 0
    for source_id, text, gender_id in zip(test["id"], test["text"], test["gender_id"], strict=True):
        rewrites = {name: rewrite(text) for name, (rewrite, _) in PROBE_VARIANTS.items()}
        if not any(n_replaced for _, n_replaced in rewrites.values()):
            skipped += 1
            continue
        for name, (new_text, n_replaced) in rewrites.items():
            expected = 1 - gender_id if PROBE_VARIANTS[name][1] else gender_id
            rows.append((f"{source_id}::{name}", source_id, name, new_text, expected, n_replaced))
    if skipped:
        log.info("%d of %d bios have no gendered word: not probed", skipped, len(test))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["expected_gender_id"] = frame["expected_gender_id"].astype(np.int64)
    frame["n_replaced"] = frame["n_replaced"].astype(np.int64)
    for column in ("id", "source_id", "variant", "text"):
        frame[column] = frame[column].astype(object)
    return frame


def main() -> None:
    """Read params and the test split, write the probe texts."""
    params = load_stage_params(PARAMS)
    test = read_split(paths.split_path("test"), ("id", "text", "gender_id"))
    with run_log("probe"):
        chosen = choose_bios(test, params["probe"].max_bios, params["seeds.data"])
        probes = make_probes(chosen)
        if probes.empty:
            raise SuiteError("no test bio has a gendered word to swap; nothing to probe")
        contract.check_table(probes, contract.TABLES["probe_texts"], paths.PROBES_FILE, exact=True)
        write_parquet(probes, paths.PROBES_FILE, metadata=run_metadata("probe", params))
        log.info("wrote %s: %d probe texts", paths.PROBES_FILE, len(probes))


if __name__ == "__main__":
    run_main(main)
