"""The DVC pipeline itself: one source of stages, exact params, code and data deps, real repros.

Stages are read through DVC's own parser (``dvc.repo.Repo``), so ``foreach`` over the catalogue
is resolved exactly as ``dvc repro`` resolves it.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from pipeline.commands import studies
from pipeline.lib import catalogue, contract, paths
from pipeline.lib.params import parse_key, read_params
from tests.conftest import REPO, copy_checkout, demo_params, dvc, stage_env, stages_run

STUDIES = {"real": REPO, "demo": REPO / "demo", "occupation": REPO / "demo" / "occupation"}


def resolved_stages(study: Path) -> dict[str, dict]:
    """Every stage of a study as DVC resolves it: cmd, params keys, deps, outs (study-relative)."""
    stages = {}
    with Repo(str(study)) as repo:
        for stage in repo.index.stages:
            if Path(stage.path).parent.resolve() != study.resolve():
                continue
            params = [
                key for d in stage.deps if isinstance(d, ParamsDependency) for key in d.params
            ]
            stages[stage.name] = {
                "cmd": stage.cmd,
                "params": params,
                "deps": [d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)],
                "outs": [o.def_path for o in stage.outs if not o.metric and not o.plot],
                "metrics": [o.def_path for o in stage.outs if o.metric],
                "plots": [o.def_path for o in stage.outs if o.plot],
            }
    return stages


@pytest.fixture(scope="module")
def pipelines() -> dict[str, dict[str, dict]]:
    return {name: resolved_stages(study) for name, study in STUDIES.items()}


def code_path(dep: str, study: Path) -> str:
    """A dep as a repo-relative path (code deps are written relative to the study)."""
    return (study / dep).resolve().relative_to(REPO).as_posix()


def test_every_study_dvc_yaml_is_a_regular_file_generated_from_the_root():
    # A symlink reads as its target's path at any committed revision (DVC reads git objects).
    for study in STUDIES.values():
        assert (study / "dvc.yaml").is_file() and not (study / "dvc.yaml").is_symlink()
    assert studies.stale_studies() == [], "run `make pipelines` after editing dvc.yaml"
    demo = (REPO / "demo" / "dvc.yaml").read_text()
    root = (REPO / "dvc.yaml").read_text()
    assert demo == studies.generated(REPO / "demo", root)
    differing = set(demo.splitlines()) - set(root.splitlines())
    assert len(differing) == 4  # two header lines and the two vars


def test_demo_params_are_the_root_params_with_the_demo_overrides():
    # Every shared value is written once (params.yaml); the demo's own are params.overrides.yaml.
    assert not studies.stale_demo_params(), "run `make pipelines` after editing params"
    demo = yaml.safe_load((REPO / "demo" / "params.yaml").read_text())
    root = yaml.safe_load((REPO / "params.yaml").read_text())
    overrides = yaml.safe_load((REPO / "demo" / "params.overrides.yaml").read_text())

    def leaves(tree: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in tree.items():
            dotted = f"{prefix}{key}"
            out |= leaves(value, dotted + ".") if isinstance(value, dict) else {dotted: value}
        return out

    demo, root, overrides = leaves(demo), leaves(root), leaves(overrides)
    assert set(demo) == set(root)
    assert {k: v for k, v in demo.items() if root[k] != v or k in overrides} == overrides
    assert len(overrides) < len(demo) / 3  # a short file: the demo's own values only


def test_a_value_overridden_twice_carries_the_last_reason_once():
    # The occupation demo overrides the demo's overrides (lora.checkpoint_steps: the root has
    # no comment there, the demo adds one, the occupation demo replaces it): one comment each.
    for study in studies.PARAMS_STUDIES:
        text = studies.generated_params(study)
        twice = [line for line in text.splitlines() if line.count(" # ") > 1]
        assert not twice, (study, twice)
    line = next(
        line
        for line in studies.generated_params(studies.OCCUPATION_DEMO).splitlines()
        if line.strip().startswith("checkpoint_steps: 80")
    )
    assert line.split(" # ")[1] in (studies.OCCUPATION_DEMO / studies.OVERRIDES).read_text()


def test_the_same_stages_in_both_studies(pipelines):
    real, demo = pipelines["real"], pipelines["demo"]
    # The same stage definitions; the real study trains 5 seeds, the demo 3 (seeds.train).
    assert len(yaml.safe_load((REPO / "params.yaml").read_text())["seeds"]["train"]) == 5

    def definitions(names):
        return list(dict.fromkeys(re.sub(r"(@|-)\d+$", "", n) for n in names))

    assert definitions(real) == definitions(demo)
    for name in [n for n in real if n in demo]:
        assert real[name]["params"] == demo[name]["params"]
        assert real[name]["outs"] == demo[name]["outs"]
        real_deps = [code_path(d, REPO) for d in real[name]["deps"]]
        demo_deps = [code_path(d, REPO / "demo") for d in demo[name]["deps"]]
        # code deps are the same files; data deps are each study's own
        assert [d for d in real_deps if d.endswith(".py")] == [
            d for d in demo_deps if d.endswith(".py")
        ]


def test_one_predict_stage_per_catalogue_model_and_one_baselines_stage_per_baseline(pipelines):
    stages = pipelines["demo"]
    seeds = demo_params()["seeds"]["train"]
    for spec in catalogue.predictors():
        inputs = [str(paths.split_path("test")), str(paths.PROBES_FILE)]
        if spec.seeded:  # one predict stage per training seed, reading that seed's weights
            for seed in seeds:
                run = paths.run_name(spec.name, seed)
                entry = stages[catalogue.predict_stage(spec.name, seed)]
                assert entry["cmd"] == (
                    f"python -m pipeline.predict {spec.name} --seed {seed} --on test probes "
                    "--task gender"
                )
                assert str(paths.trained_dir(spec.name, seed)) in entry["deps"]
                assert entry["deps"][-2:] == inputs
                outs = [str(paths.predictions_path(run)), str(paths.probe_predictions_path(run))]
                assert entry["outs"] == outs
        elif spec.kind == "model":
            entry = stages[catalogue.predict_stage(spec.name)]
            assert entry["cmd"] == (
                f"python -m pipeline.predict {spec.name} --on test probes --task gender"
            )
            assert spec.weights in entry["deps"]
            assert entry["deps"][-2:] == inputs
            assert entry["outs"] == [
                str(paths.predictions_path(spec.name)),
                str(paths.probe_predictions_path(spec.name)),
            ]
        else:
            entry = stages[f"baselines@{spec.name}"]
            assert entry["outs"] == [
                str(paths.predictions_path(spec.name)),
                str(paths.probe_predictions_path(spec.name)),
            ]
    weights = {s.name: s.weights for s in catalogue.predictors() if s.kind == "model"}
    assert weights == {
        "zero_shot": str(paths.BASE_MODEL_DIR),
        "random_head": str(paths.BASE_MODEL_DIR),
        **{name: None for name in catalogue.seeded_names()},  # one folder per seed (paths)
    }


def test_dvc_yaml_declares_the_paths_the_code_writes(pipelines):
    stages = pipelines["demo"]
    assert stages["prepare"]["outs"] == [
        *(str(paths.split_path(s)) for s in paths.SPLITS),
        str(paths.PROFILE),
    ]
    assert str(paths.RAW_DATA_DIR) in stages["prepare"]["deps"]
    assert stages["base_model"]["outs"] == [str(paths.BASE_MODEL_DIR)]
    seeds = demo_params()["seeds"]["train"]
    assert len(seeds) == 3  # the demo trains three seeds
    trained = catalogue.seeded_names()
    assert {name for name in stages if name.startswith("train")} == {
        catalogue.train_stage(name, s) for name in trained for s in seeds
    }
    for name in trained:
        for seed in seeds:
            train = stages[catalogue.train_stage(name, seed)]
            assert train["cmd"] == f"python -m pipeline.train {name} {seed} --task gender"
            assert train["outs"] == [str(paths.trained_dir(name, seed))]
            assert train["metrics"] == [str(paths.train_metrics(name, seed))]
            assert train["plots"] == [str(paths.train_history(name, seed))]
            assert train["params"] == [name]  # not seeds.train: adding a seed reruns no other
            # Checkpoints must survive DVC deleting the outs of a stage it is about to rerun.
            for declared in (*train["outs"], *train["metrics"], *train["plots"]):
                assert not paths.checkpoints_dir(name).is_relative_to(declared)
    # the erase stage's eraser feeds every `erased` run; its leakage probes feed the analysis
    assert stages["erase"]["outs"] == [
        str(paths.eraser_dir("base")),
        str(paths.leakage_path("base")),
    ]
    for spec in catalogue.predictors():
        if spec.section == "erased":
            for seed in seeds:
                train = stages[catalogue.train_stage(spec.name, seed)]
                assert train["cmd"].startswith("python -m pipeline.train ")
                assert str(paths.eraser_dir("base")) in train["deps"]
    assert str(paths.LEAKAGE_DIR) in stages["analyze"]["deps"]
    # analyze reads every run's curve: the folder holding all of them is its dependency
    assert str(paths.TRAINED_RESULTS_DIR) in stages["analyze"]["deps"]
    assert stages["probe"]["outs"] == [str(paths.PROBES_FILE)]
    analyze = stages["analyze"]
    assert analyze["outs"] == [str(paths.ANALYSIS_DIR)]
    assert analyze["metrics"] == [str(paths.ANALYSIS_METRICS)]
    # every predictions file, whichever predictors exist: the two folders are deps
    assert {str(paths.PREDICTIONS_DIR), str(paths.PROBE_PREDICTIONS_DIR)} <= set(analyze["deps"])
    code = {Path(d).name for d in analyze["deps"] if d.startswith("../analysis/")}
    assert code == {p.name for p in (REPO / "analysis").glob("*.py")}
    top = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    assert {next(iter(p)) for p in top} == {
        str(paths.ANALYSIS_PLOTS_DIR / plot) for plot in contract.PLOTS
    }


def test_the_committed_demo_lock_records_exactly_the_demo_stages(pipelines):
    # DVC keeps the lock entry of a stage that dvc.yaml no longer has (a renamed train stage,
    # a removed predictor): a reader of the lock would take its outputs for the study's.
    lock = yaml.safe_load((REPO / "demo/dvc.lock").read_text())["stages"]
    assert sorted(lock) == sorted(pipelines["demo"])


def stage_params(name: str, cmd: str) -> tuple[str, ...]:
    """The params a stage's module declares (``PARAMS``, or ``params_keys(<foreach key>)``)."""
    module = importlib.import_module(cmd.split()[2])
    if hasattr(module, "params_keys"):
        predictor = name.split("@")[1].split("-")[0]  # predict_seeded@lora-1234
        words = cmd.split()
        if module.__name__ == "pipeline.predict" and "--task" in words:  # its own settings key
            return module.params_keys(predictor, words[words.index("--task") + 1])
        return module.params_keys(predictor)
    return module.PARAMS


def test_every_stage_lists_exactly_the_params_its_module_reads(pipelines):
    # A stage can read only what its module declares (pipeline.lib.params.StageParams refuses the
    # rest), and every schema field is required: so if both lists agree and both params files
    # parse, no setting that changes an output is invisible to DVC.
    files = {
        path: read_params(path)
        for path in (
            REPO / "params.yaml",
            *(study / "params.yaml" for study in studies.PARAMS_STUDIES),
        )
    }
    checked = 0
    for study in ("demo", "occupation"):  # the occupation task reads its own zero-shot settings
        for name, stage in pipelines[study].items():
            declared = stage_params(name, stage["cmd"])
            assert tuple(stage["params"]) == tuple(declared), (study, name)
            for key in declared:
                for path, raw in files.items():
                    parse_key(raw, key, str(path))  # complete and valid in every study
                checked += 1
    assert checked >= 60


def test_a_schema_default_cannot_hide_from_dvc(tmp_path):
    # Removing any leaf of a section a stage reads is an error, not a silent default.
    params = demo_params()
    del params["model"]["tiny"]["n_positions"]
    with pytest.raises(ValueError, match=r"missing key model\.tiny\.n_positions"):
        parse_key(params, "model")


# Modules every stage uses for plumbing (where files are, errors, atomic writes, params,
# provenance); a change to them cannot change an output (params.py has no defaults), so
# stages do not list them.
PLUMBING = {
    "pipeline/lib/paths.py",
    "pipeline/lib/errors.py",
    "pipeline/lib/io.py",
    "pipeline/lib/params.py",
}
PLUMBING |= {"pipeline/lib/provenance.py", "pipeline/__init__.py"}
PLUMBING |= {"pipeline/lib/progress.py"}  # progress bars: writes to stderr only


def module_imports(file: str) -> set[str]:
    """The suite's modules that ``file`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse((REPO / file).read_text())):
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
            elif name in ("pipeline", "analysis"):
                found.add(f"{name}/__init__.py")
    return found


# Every module runs under pipeline/__init__.py, which pins the CPU kernels (pipeline/_kernels.py)
# before numpy or torch load: every stage that computes depends on them.
KERNELS = "pipeline/_kernels.py"


def closure(file: str) -> set[str]:
    todo, needed = [file], set()
    if file != "pipeline/check_params.py":  # validates params: computes nothing
        todo.append(KERNELS)
    if file.startswith("analysis/"):
        todo.append("analysis/__init__.py")  # imported whenever analysis.* is
    while todo:
        current = todo.pop()
        if current not in needed:
            needed.add(current)
            if current not in PLUMBING:  # plumbing validates and writes; it computes nothing
                todo += module_imports(current)
    return needed


def test_every_stage_depends_on_the_code_it_runs_and_no_stage_imports_another(pipelines):
    # A stage whose computing code is not a dep keeps a stale cached output when that code
    # changes (DVC would not rerun it). Imports inside functions count too.
    stages = pipelines["demo"]
    stage_modules = {stage["cmd"].split()[2].replace(".", "/") + ".py" for stage in stages.values()}
    for name, stage in stages.items():
        module = stage["cmd"].split()[2].replace(".", "/") + ".py"
        needed = closure(module)
        deps = {code_path(d, REPO / "demo") for d in stage["deps"]}
        missing = sorted(needed - PLUMBING - deps)
        assert not missing, f"stage {name} lacks deps {missing}"
        if "pipeline/lib/catalogue.py" in needed:  # it reads every task's catalogue
            for file in catalogue.CATALOGUE_FILES.values():
                assert file.relative_to(REPO).as_posix() in deps, (name, file.name)
        assert needed & stage_modules == {module}, f"{module} imports another stage's module"
    # The predict stages read the catalogue only through the params schema, which asks it for
    # predictor names and roles (which ``predict.<name>`` and recipe sections exist, which
    # predictor is a reference), never labels, descriptions or weights: none of those can
    # change a prediction, so adding a predictor or rewording one reruns no predict stage.
    predict = {"pipeline/predict.py"}
    seen, todo = set(), ["pipeline/predict.py"]
    while todo:  # the whole import closure, plumbing included, to find who imports catalogue
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += module_imports(current)
    readers = {f for f in seen - predict if "pipeline/lib/catalogue.py" in module_imports(f)}
    assert readers == {"pipeline/lib/params.py"}
    params_source = (REPO / "pipeline/lib/params.py").read_text()
    calls = set(re.findall(r"catalogue\.(\w+)\(", params_source))
    allowed = {
        "names_of_every_task",
        "seeded_names_of_every_task",
        "erased_names_of_every_task",
        "is_reference",
    }
    assert calls <= allowed, calls


def test_demo_prepare_repro_twice_second_is_noop(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    first = dvc(["repro", "prepare"], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Running stage 'prepare'" in first.stdout
    assert (demo / paths.split_path("test")).is_file()
    second = dvc(["repro", "prepare"], demo, clone)
    assert second.returncode == 0, second.stderr
    assert "Running stage" not in second.stdout
    assert "up to date" in dvc(["status", "prepare"], demo, clone).stdout


def write_local_params(demo: Path) -> dict:
    """Point the demo at local files in data/raw/, with a tiny, fast base model."""
    params = demo_params(
        {
            "data": {
                "source": "local",
                "local": {
                    "train": "data/raw/train.csv",
                    "dev": "data/raw/dev.csv",
                    "test": "data/raw/test.csv",
                    "path": None,
                    "split_column": "split",
                },
            },
            "model": {"tiny": {"vocab_size": 400, "pretrain_steps": 2}},
        }
    )
    (demo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def test_editing_a_local_data_file_reruns_prepare_and_only_what_it_feeds(tmp_path, sample_raw):
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    write_local_params(demo)
    for split, frame in sample_raw.items():
        frame.head(200).to_csv(demo / f"data/raw/{split}.csv", index=False)
    targets = ["base_model", "probe"]  # base_model reads the train split, probe the test split
    first = dvc(["repro", *targets], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    assert stages_run(first.stdout) == {"check_params", "prepare", "base_model", "probe"}
    assert len(pd.read_parquet(demo / paths.split_path("test"))) == 200

    sample_raw["test"].head(120).to_csv(demo / "data/raw/test.csv", index=False)
    second = dvc(["repro", *targets], demo, clone)
    assert second.returncode == 0, second.stdout + second.stderr
    # the train split came out byte-identical, so the base model is not rebuilt
    assert stages_run(second.stdout) == {"prepare", "probe"}
    assert len(pd.read_parquet(demo / paths.split_path("test"))) == 120

    started = time.monotonic()
    third = dvc(["repro", *targets], demo, clone)
    noop_seconds = time.monotonic() - started
    assert third.returncode == 0 and stages_run(third.stdout) == set()
    print(f"no-op repro with local data: {noop_seconds:.2f} s")


def test_adding_a_predictor_is_a_catalogue_entry_and_a_loader(tmp_path, tiny_study_template):
    # A constant predictor, added the documented way in a copy of the checkout: an entry in the
    # catalogue, a loader in pipeline/lib/model_predictors.py and its own (empty) params key.
    clone = copy_checkout(tmp_path / "clone")
    entry = (
        "  constant:\n"
        "    weights: models/base\n"
        "    settings: predict.constant\n"
        "    label: constant guess\n"
        "    description: says 0.3 for every bio, whatever it reads\n"
    )
    text = (clone / "pipeline/catalogue.yaml").read_text()
    text = text.replace("\nbaseline_predictors:\n", f"{entry}\nbaseline_predictors:\n")
    (clone / "pipeline/catalogue.yaml").write_text(text)
    with open(clone / "pipeline/lib/model_predictors.py", "a") as handle:
        handle.write(
            "\n\nclass ConstantScorer:\n"
            "    def encode(self, texts):\n"
            "        import numpy as np\n"
            "        from pipeline.lib.batch_scoring import Encoded\n"
            "        return Encoded([[0]] * len(texts), np.zeros(len(texts), dtype=bool))\n\n"
            "    def score(self, batch, runtime):\n"
            "        import numpy as np\n"
            "        return np.full(len(batch), 0.3)\n\n\n"
            "@loader\n"
            "def load_constant(ctx: LoadContext) -> Predictor:\n"
            '    return Predictor("constant", ConstantScorer(), model="constant 0.3")\n'
        )
    for params_file in (clone / "params.yaml", clone / "demo/params.yaml"):
        params = yaml.safe_load(params_file.read_text())
        params["predict"]["constant"] = {}
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    # dvc.yaml needs no edit: its predict stages iterate over the catalogue
    listed = dvc(["stage", "list"], clone / "demo", clone).stdout
    assert "predict@constant" in listed

    # Run the new predictor's stage and the analysis in a prepared study with this code.
    study = tmp_path / "study"
    subprocess.run(["cp", "-r", str(tiny_study_template), str(study)], check=True)
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["predict"]["constant"] = {}
    params["analyze"]["bootstrap_resamples"] = 50
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    for args in (
        ["pipeline.predict", "constant"],
        ["pipeline.predict", "zero_shot"],
        ["analysis.analyze"],
    ):
        result = subprocess.run(
            ["python", "-m", *args],
            cwd=study,
            env=stage_env(clone),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    summary = yaml.safe_load((study / paths.ANALYSIS_SUMMARY).read_text())
    assert summary["predictors"]["constant"]["label"] == "constant guess"
    overall = pd.read_csv(study / contract.TABLES["overall"].file())
    share_women = pd.read_parquet(study / paths.split_path("test"))["gender_id"].mean()
    accuracy = overall.query("predictor == 'constant' and metric == 'accuracy'")["value"].item()
    assert accuracy == pytest.approx(1 - share_women)  # P(female) 0.3 says "male" for all


def test_demo_predict_repro_tracks_exactly_its_params(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    # A smaller demo than demo/params.yaml, so that prepare + base_model + predict take seconds.
    params = demo_params(
        {
            "data": {"sample": {"train": 300, "dev": 30, "test": 60}},
            "model": {"tiny": {"vocab_size": 512, "pretrain_steps": 5}},
        }
    )
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


def test_the_stage_list_in_the_docs_is_the_stages_of_dvc_yaml():
    # docs/stages.md is the one list of the stages (README and layout.md point to it): it names
    # exactly the stages of dvc.yaml, and pipeline/__init__.py names every stage module.
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    table = (REPO / "docs/stages.md").read_text().split("\n\n")[1]
    listed = re.findall(r"^\| `([a-z_]+)(?:@[^`]*)?` \|", table, flags=re.MULTILINE)
    assert sorted(listed) == sorted(declared)
    modules = {stage["do"]["cmd"] if "do" in stage else stage["cmd"] for stage in declared.values()}
    modules = {cmd.split()[2] for cmd in modules}
    package_map = importlib.import_module("pipeline").__doc__
    for module in modules - {"analysis.analyze"}:
        assert f"``{module.removeprefix('pipeline.')}``" in package_map, module
    assert "``analysis.analyze``" in package_map
