"""The DVC pipeline itself: declared paths match the code, and `dvc repro` runs for real."""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path

import pandas as pd
import yaml

from pipeline import paths
from tests.conftest import REPO, copy_checkout, stage_env


def dvc(args: list[str], cwd: Path, code_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["dvc", *args],
        cwd=cwd,
        env=stage_env(code_root),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_dvc_yaml_declares_the_paths_the_code_writes():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages["prepare"]["outs"] == [str(paths.split_path(s)) for s in paths.SPLITS]
    assert stages["prepare"]["metrics"] == [str(paths.PROFILE)]
    assert stages["base_model"]["outs"] == [str(paths.BASE_MODEL_DIR)]
    train = stages["train"]
    assert train["outs"] == [str(paths.LORA_DIR)]
    assert train["metrics"] == [str(paths.LORA_METRICS)]
    assert [next(iter(p)) for p in train["plots"]] == [str(paths.LORA_HISTORY)]
    assert {d for d in train["deps"] if not d.startswith("${code}/")} == {
        str(paths.BASE_MODEL_DIR),
        str(paths.split_path("train")),
        str(paths.split_path("dev")),
    }
    assert train["params"] == ["lora", "seeds.train"]
    # Checkpoints must survive DVC deleting the outs of a stage it is about to rerun.
    declared = [*train["outs"], *train["metrics"], *(next(iter(p)) for p in train["plots"])]
    assert not any(
        Path(p) in (paths.LORA_CHECKPOINTS_DIR, *paths.LORA_CHECKPOINTS_DIR.parents)
        or paths.LORA_CHECKPOINTS_DIR.is_relative_to(p)
        for p in declared
    )
    assert (REPO / "demo/dvc.yaml").resolve() == (REPO / "dvc.yaml").resolve()


# Modules every stage uses for plumbing (where files are, errors, atomic writes, params,
# provenance); a change to them must not rerun the whole study, so stages do not list them.
PLUMBING = {"pipeline/paths.py", "pipeline/errors.py", "pipeline/io.py", "pipeline/params.py"}
PLUMBING |= {"pipeline/provenance.py", "pipeline/__init__.py"}


def module_imports(file: str) -> set[str]:
    """The suite's modules that ``file`` imports at module level.

    Imports inside functions are not followed: that is where predict imports a predictor's
    loader (declared per predictor as ``${item.loader}``) and where a stage's ``main`` imports
    what only the stage itself uses; such a module is listed in dvc.yaml by hand.
    """
    found = set()
    for node in ast.parse((REPO / file).read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            path = name.replace(".", "/") + ".py"
            if name.split(".")[0] in ("pipeline", "analysis") and (REPO / path).is_file():
                found.add(path)
    return found


def test_every_stage_depends_on_the_code_it_runs():
    # A stage whose computing code is not a dep keeps a stale cached output when that code
    # changes (DVC would not rerun it). Follow the imports from the stage's module (and its
    # predictor's loader), plumbing aside.
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    checked = 0
    for name, stage in stages.items():
        items = stage["foreach"].items() if "foreach" in stage else [(None, {})]
        body = stage.get("do", stage)
        for key, item in items:
            deps = {
                d.replace("${code}/", "").replace("${item.loader}", item.get("loader", ""))
                for d in body["deps"]
            }
            module = body["cmd"].split()[2]
            todo = [module.replace(".", "/") + ".py", *([item["loader"]] if item else [])]
            if module.startswith("analysis."):
                todo.append("analysis/__init__.py")  # imported whenever analysis.* is
            needed = set()
            while todo:
                file = todo.pop()
                if file not in needed:
                    needed.add(file)
                    todo += module_imports(file)
            missing = sorted(needed - PLUMBING - deps)
            assert not missing, f"stage {name}{'@' + key if key else ''} lacks deps {missing}"
            checked += 1
    assert checked == len(stages) + 2 * 2  # predict and predict_probes: three predictors each


def test_demo_prepare_repro_twice_second_is_noop(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    first = dvc(["repro", "prepare"], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Running stage 'prepare'" in first.stdout
    assert (demo / paths.split_path("test")).is_file()
    started = time.monotonic()
    second = dvc(["repro", "prepare"], demo, clone)
    assert second.returncode == 0, second.stderr
    assert "Running stage" not in second.stdout
    assert "didn't change, skipping" in second.stdout
    assert time.monotonic() - started < 30
    status = dvc(["status", "prepare"], demo, clone)
    assert "up to date" in status.stdout


def test_dvc_yaml_declares_the_analysis_paths():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    stages = spec["stages"]
    assert stages["probe"]["outs"] == [str(paths.PROBES_FILE)]
    assert stages["baselines"]["outs"] == [
        *(str(paths.predictions_path(b)) for b in paths.BASELINES),
        *(str(paths.probe_predictions_path(b)) for b in paths.BASELINES),
    ]
    assert str(paths.PROBES_FILE) in stages["baselines"]["deps"]
    analyze = stages["analyze"]
    assert analyze["metrics"] == [str(paths.ANALYSIS_METRICS)]
    assert analyze["outs"] == [
        *(str(p) for p in paths.ANALYSIS_TABLES.values()),
        str(paths.ANALYSIS_REPORT),
        str(paths.ANALYSIS_PLOTS_DIR),
    ]
    for predictor in paths.PREDICTORS:
        assert str(paths.predictions_path(predictor)) in analyze["deps"]
        assert str(paths.probe_predictions_path(predictor)) in analyze["deps"]
    # analysis settings never rerun a model: analyze depends on its own params only
    assert analyze["params"] == ["analyze", "seeds.bootstrap"]
    code = {Path(d).name for d in analyze["deps"] if d.startswith("${code}/analysis/")}
    assert code == {p.name for p in (REPO / "analysis").glob("*.py")}
    plotted = {
        file for plot in spec["plots"] for definition in plot.values() for file in definition["y"]
    }
    assert plotted == {
        str(paths.analysis_plot_path(plot, predictor))
        for plot in paths.ANALYSIS_PLOTS
        for predictor in paths.PREDICTORS
    }


def test_dvc_yaml_predict_stages_write_the_predictions_paths():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    stage, probes = stages["predict"], stages["predict_probes"]
    assert set(stage["foreach"]) == {"zero_shot", "random_head", "lora"}
    assert probes["foreach"] == stage["foreach"]  # one list of predictors (a YAML anchor)
    assert stage["do"]["outs"] == [str(paths.predictions_path("${key}"))]
    assert probes["do"]["outs"] == [str(paths.probe_predictions_path("${key}"))]
    assert "data/splits/test.parquet" in stage["do"]["deps"]
    assert str(paths.PROBES_FILE) in probes["do"]["deps"]
    assert "${item.weights}" in stage["do"]["deps"]
    weights = {name: item["weights"] for name, item in stage["foreach"].items()}
    assert weights == {
        "zero_shot": str(paths.BASE_MODEL_DIR),
        "random_head": str(paths.BASE_MODEL_DIR),
        "lora": str(paths.LORA_DIR),
    }


def test_demo_predict_repro_runs_and_tracks_exactly_its_params(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    # A smaller demo than demo/params.yaml, so that prepare + base_model + predict take seconds.
    params = yaml.safe_load((demo / "params.yaml").read_text())
    params["data"]["sample"] = {"train": 300, "dev": 30, "test": 60}
    params["model"]["tiny"].update(vocab_size=512, pretrain_steps=5)
    (demo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # The base predictors only: predict@lora would train an adapter first (that chain is
    # covered by tests/test_reproducibility.py).
    first = dvc(["repro", "predict@zero_shot", "predict@random_head"], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    for name in ("zero_shot", "random_head"):
        assert f"Running stage 'predict@{name}'" in first.stdout
        predictions = pd.read_parquet(demo / paths.predictions_path(name))
        assert len(predictions) == 60 and set(predictions["predictor"]) == {name}
    # A zero-shot setting invalidates the zero-shot stage only.
    params["predict"]["zero_shot"]["template"] = "{text} Then"
    (demo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = dvc(["status", "predict"], demo, clone)
    assert "predict@zero_shot" in status.stdout
    assert "predict@random_head" not in status.stdout
