"""Which study the dashboard opens, and the command its guidance names."""

from __future__ import annotations

from dashboard import data


def test_study_precedence(tmp_path, monkeypatch):
    root, demo = tmp_path / "repo", tmp_path / "repo/demo"
    demo.mkdir(parents=True)
    monkeypatch.setattr(data, "REPO_ROOT", root)
    monkeypatch.setattr(data, "DEMO_STUDY", demo)
    other, env_study = tmp_path / "other", tmp_path / "env"
    env = {data.STUDY_ENV: str(env_study)}
    # pytest-like options around --study are ignored, not an error.
    assert data.resolve_study(["-q", "--study", str(other), "-x"], env) == other
    assert data.resolve_study(["-q"], env) == env_study
    assert data.resolve_study([], {}) == demo  # no real results yet
    (root / data.METRICS).parent.mkdir(parents=True)
    (root / data.METRICS).write_text("{}")
    assert data.resolve_study([], {}) == root
    assert data.resolve_study([], {data.STUDY_ENV: ""}) == root


def test_make_command_names_the_study(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(data, "DEMO_STUDY", tmp_path / "demo")
    assert data.make_command(tmp_path / "demo") == "make demo"
    assert data.make_command(tmp_path) == "dvc repro analyze"
    assert data.make_command(tmp_path / "x", None) == f"cd {tmp_path / 'x'} && dvc repro"
