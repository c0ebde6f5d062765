"""Hostile params: a typo anywhere is one line naming the nearest valid key, directly and under
``dvc repro``; absurd or non-finite values are refused; YAML aliases cannot blow up a reader.
"""

from __future__ import annotations

import time

import pytest
import yaml

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.params import parse_key, parse_study, read_params
from tests.conftest import copy_checkout, demo_params, dvc, run_module, write_params

# (change merged into the demo's params, the one error line's text after "params.yaml: ")
TYPOS = [
    ({"seeds": {"trian": 1}}, "unknown key seeds.trian (did you mean seeds.train?)"),
    (
        {"predict": {"batchsize": 8}},
        "unknown key predict.batchsize (did you mean predict.batch_size?)",
    ),
    ({"predict": {"bert": {}}}, "unknown key predict.bert; allowed here: device, batch_size"),
    ({"baselines": {"bm25": {}}}, "unknown key baselines.bm25; allowed here: pronoun_rule"),
    ({"lora_r": 16}, "unknown section lora_r (did you mean lora?)"),
    # a key spelt like another section's field: the formatter once raised KeyError here
    ({"analyze": {"alpha": 0.05}}, "unknown key analyze.alpha; allowed here: bootstrap_resamples"),
    ({"lora": {"seed": 3}}, "unknown key lora.seed; allowed here: learning_rate, lr_scheduler"),
    ({"probe": {"r": 3}}, "unknown key probe.r; allowed here: max_bios"),
    ({"data": {"max_rows": {"tran": 5}}}, "unknown key data.max_rows.tran (did you mean"),
    ({"predict": {"zero_shot": {"femal": [" She"]}}}, "unknown key predict.zero_shot.femal (did"),
]


@pytest.mark.parametrize(("change", "message"), TYPOS, ids=lambda v: str(v)[:30])
def test_an_unknown_key_anywhere_names_the_nearest_valid_one(tmp_path, change, message):
    write_params(tmp_path, demo_params(change))
    with pytest.raises(SuiteError) as err:
        read_params(tmp_path / "params.yaml")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"{tmp_path / 'params.yaml'}: {message}"), text


@pytest.mark.parametrize(
    ("section", "change"),
    [("analyze", {"alpha": 1}), ("lora", {"seed": 1}), ("probe", {"r": 1})],
)
def test_the_error_formatter_never_raises(section, change):
    # parse_key on a raw dict (pydantic's extra_forbidden path, not read_params' walk)
    with pytest.raises(SuiteError, match=rf"unknown key {section}\.\w+; allowed here"):
        parse_key(demo_params({section: change}), section)


ABSURD = [
    ({"lora": {"learning_rate": float("inf")}}, "lora", "lora.learning_rate = inf"),
    ({"lora": {"learning_rate": float("nan")}}, "lora", "lora.learning_rate = nan"),
    ({"lora": {"learning_rate": 1.0e4}}, "lora", "lora.learning_rate = 10000.0: Input should be"),
    ({"lora": {"alpha": float("inf")}}, "lora", "lora.alpha = inf: Input should be a finite"),
    ({"model": {"tiny": {"learning_rate": 50.0}}}, "model", "model.tiny.learning_rate = 50.0"),
    ({"seeds": {"train": [1, 2**32]}}, "seeds", "seeds.train.1 = 4294967296: Input should be less"),
    ({"predict": {"random_head": {"seed": 2**40}}}, "predict", "predict.random_head.seed ="),
    (
        {"baselines": {"pronoun_rule": {"smoothing": float("inf")}}},
        "baselines",
        "baselines.pronoun_rule.smoothing = inf: Input should be a finite number",
    ),
    ({"model": {"tiny": {"vocab_size": 10**9}}}, "model", "model.tiny.vocab_size = 1000000000"),
    ({"analyze": {"confidence": float("nan")}}, "analyze", "analyze.confidence = nan"),
]


@pytest.mark.parametrize(("change", "section", "message"), ABSURD, ids=lambda v: str(v)[:40])
def test_non_finite_and_absurd_values_are_refused(change, section, message):
    with pytest.raises(SuiteError) as err:
        parse_key(demo_params(change), section)
    assert str(err.value).startswith(f"params.yaml: {message}"), err.value
    assert "\n" not in str(err.value)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 10):  # 9^10 strings once expanded
        prev = chr(ord("a") + n - 1)
        levels.append(f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [{','.join([f'*{prev}'] * 9)}]")
    (tmp_path / "params.yaml").write_text("\n".join(levels) + "\n")
    started = time.monotonic()
    with pytest.raises(SuiteError, match=r"params\.yaml: YAML anchor or alias \(&a\) on line 1"):
        read_params(tmp_path / "params.yaml")
    assert time.monotonic() - started < 5
    # and a single harmless alias too: params.yaml lists every value in full
    params = yaml.safe_dump(demo_params())
    (tmp_path / "params.yaml").write_text(
        params.replace("seeds:\n  data: 1234", "seeds:\n  data: &s 1234").replace(
            "  model: 1234", "  model: *s", 1
        )
    )
    with pytest.raises(SuiteError, match="YAML anchor or alias"):
        read_params(tmp_path / "params.yaml")


def test_a_params_directory_is_named_as_one(tmp_path):
    (tmp_path / "params.yaml").mkdir()
    with pytest.raises(SuiteError, match=r"params\.yaml: is a directory, expected"):
        read_params(tmp_path / "params.yaml")


def test_a_stage_run_directly_refuses_a_typo_in_another_section(tmp_path):
    # prepare reads data and seeds.data only; a typo in lora is still refused, before any output
    write_params(tmp_path, demo_params({"lora": {"lerning_rate": 1.0e-3}}))
    result = run_module("pipeline.prepare", tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: params.yaml: unknown key lora.lerning_rate (did you mean lora.learning_rate?); "
        "allowed here: learning_rate, lr_scheduler, warmup_ratio, weight_decay, max_grad_norm, "
        "epochs, max_steps, batch_size, gradient_accumulation_steps, eval_batch_size, "
        "max_length, eval_steps, metric_for_best_model, early_stopping_patience, "
        "checkpoint_steps, r, alpha, dropout, target_modules, fan_in_fan_out"
    )
    assert not (tmp_path / "data").exists()


def test_dvc_repro_refuses_a_typo_that_no_stage_lists(tmp_path):
    # Before the check_params stage, DVC saw no listed key change and exited 0 (issue 22, item 3).
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    small = {"data": {"sample": {"train": 300, "dev": 60, "test": 60}}}
    write_params(demo, demo_params(small))
    first = dvc(["repro", "prepare"], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = [*(paths.split_path(split) for split in paths.SPLITS), paths.PROFILE]
    before = {file: (demo / file).read_bytes() for file in outputs}
    for change, message in [TYPOS[0], TYPOS[1], TYPOS[4]]:
        write_params(demo, demo_params({**small, **change}))
        failed = dvc(["repro", "prepare"], demo, clone)
        assert failed.returncode != 0, failed.stdout
        assert "Traceback" not in failed.stderr
        errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith(f"error: params.yaml: {message}")
        assert "Running stage 'prepare'" not in failed.stdout
        assert {file: (demo / file).read_bytes() for file in outputs} == before
    # a valid edit of a key prepare does not read: the check reruns, prepare does not
    write_params(demo, demo_params({**small, "analyze": {"top_gaps": 3}}))
    fine = dvc(["repro", "prepare"], demo, clone)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "Running stage 'check_params'" in fine.stdout
    assert "Running stage 'prepare'" not in fine.stdout
    assert {file: (demo / file).read_bytes() for file in outputs} == before


def test_params_changed_while_a_stage_runs_stop_it_before_dvc_records_them(tmp_path, monkeypatch):
    # issue 22, item 7: a refused `dvc exp run -S` left top_gaps: 3 in params.yaml mid-run;
    # DVC then recorded it in dvc.lock beside a report made with 5 and called it up to date.
    from pipeline.lib.params import load_stage_params
    from pipeline.lib.provenance import run_log

    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, demo_params())
    load_stage_params(("analyze", "seeds.bootstrap"))
    with run_log("analyze"):
        write_params(tmp_path, demo_params({"lora": {"r": 4}}))  # not this stage's key: fine
    with pytest.raises(SuiteError) as err, run_log("analyze"):
        write_params(tmp_path, demo_params({"analyze": {"top_gaps": 3}}))
    assert str(err.value).startswith(
        "params.yaml changed while analyze ran (analyze changed; e.g. a concurrent `dvc exp run"
    )


def _with_duplicate(text: str, after: str | None, line: str) -> str:
    """``text`` with ``line`` right after the first line equal to ``after`` (None: at the end)."""
    lines = text.splitlines()
    at = lines.index(after) + 1 if after is not None else len(lines)
    return "\n".join([*lines[:at], line, *lines[at:]]) + "\n"


@pytest.mark.parametrize(
    ("after", "line", "dotted"),
    [
        ("lora:", "  r: 64", "lora.r"),
        ("seeds:", "  data: 99", "seeds.data"),
        (None, "seeds: {data: 1}", "seeds"),
        ("  zero_shot:", "    female: [' Her']", "predict.zero_shot.female"),
    ],
)
def test_a_key_given_twice_is_refused_with_its_line(tmp_path, after, line, dotted):
    # issue 26 item 6d: YAML keeps the last copy silently; DVC refuses the file, a stage run
    # directly ran on with the second value
    edited = _with_duplicate(yaml.safe_dump(demo_params(), sort_keys=False), after, line)
    (tmp_path / "params.yaml").write_text(edited)
    lines = edited.splitlines()
    key = line.split(":")[0] + ":"
    start = lines.index(after) if after is not None else 0
    first, second = [i + 1 for i in range(start, len(lines)) if lines[i].startswith(key)][:2]
    with pytest.raises(SuiteError) as err:
        read_params(tmp_path / "params.yaml")
    assert str(err.value) == (
        f"{tmp_path / 'params.yaml'}: duplicate key {dotted} on line {second} (first on line "
        f"{first}); keep one of them"
    )


def test_a_stage_run_directly_refuses_a_duplicate_key_in_one_line(tmp_path):
    text = yaml.safe_dump(demo_params(), sort_keys=False)
    (tmp_path / "params.yaml").write_text(_with_duplicate(text, "seeds:", "  data: 99"))
    result = run_module("pipeline.prepare", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: duplicate key seeds.data on line 4 (first on line 3); keep one of them"
    ]
    assert not (tmp_path / "data").exists()


def test_an_erased_head_reading_other_tokens_than_its_eraser_is_one_line(tmp_path):
    # The eraser is fitted on erase.max_length tokens; leace_head_only's head must read as many.
    write_params(tmp_path, demo_params({"leace_head_only": {"max_length": 128}}))
    with pytest.raises(SuiteError) as err:
        parse_study(read_params(tmp_path / "params.yaml"), tmp_path / "params.yaml")
    text = str(err.value)
    assert "\n" not in text
    assert "leace_head_only.max_length = 128 but erase.max_length = 256" in text, text
    write_params(
        tmp_path,
        demo_params({"leace_head_only": {"max_length": 128}, "erase": {"max_length": 128}}),
    )
    parse_study(read_params(tmp_path / "params.yaml"))  # both at one value: accepted
