"""The train stage's code stays in small functions and uses the Trainer's public API only.

Read from the source (``ast``), so the checks cost no training run. Each checker is first shown
to flag a planted offence: a check that could never fail would prove nothing.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tests.conftest import REPO

# The stage and the library modules that hold its trainer's internals.
TRAINING_MODULES = (
    "pipeline/train.py",
    "pipeline/lib/classifier_training.py",
    "pipeline/lib/lora_model.py",
    "pipeline/lib/trainers.py",
    "pipeline/lib/train_data.py",
    "pipeline/lib/train_loss.py",
    "pipeline/lib/dev_selection.py",
    "pipeline/lib/checkpoints.py",
    "pipeline/lib/divergence.py",
)
MAX_FUNCTION_LINES = 80


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Every function (methods and nested ones too) longer than ``limit`` lines: name -> lines.

    A function's lines run from its ``def`` line to its last line (decorators not counted).
    """
    return {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > limit
    }


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_trainer_class(node: ast.ClassDef) -> bool:
    return any(ast.unparse(base).split(".")[-1] == "Trainer" for base in node.bases)


def trainer_private_uses(source: str) -> list[str]:
    """Uses of the HF Trainer's private (underscore) attributes, as ``line: code``.

    - an underscore attribute of anything named like a trainer (``trainer._tr_loss``,
      ``self.trainer._globalstep_last_logged``);
    - in a subclass of ``Trainer``: an underscore attribute of ``self`` or ``super()``, or an
      underscore method defined there (overriding a private hook such as ``_clip_grad_norm``).
    """
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and "trainer" in ast.unparse(node.value).lower()
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        if not (isinstance(node, ast.ClassDef) and _is_trainer_class(node)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and _private(inner.name):
                found.append(f"{inner.lineno}: def {inner.name}")
            if (
                isinstance(inner, ast.Attribute)
                and _private(inner.attr)
                and ast.unparse(inner.value) in ("self", "super()")
            ):
                found.append(f"{inner.lineno}: {ast.unparse(inner)}")
    return sorted(set(found), key=lambda entry: int(entry.split(":")[0]))


def test_the_function_length_check_catches_a_long_function():
    body = "\n".join(f"        x{i} = {i}" for i in range(80))
    planted = f"def short():\n    return 1\n\n\nclass A:\n    def long(self):\n{body}\n"
    assert long_functions(planted) == {"long": 81}


def test_no_function_of_the_train_stage_or_its_library_is_over_80_lines():
    checked = 0
    for module in TRAINING_MODULES:
        source = (REPO / module).read_text()
        assert not long_functions(source), f"{module}: {long_functions(source)}"
        checked += sum(isinstance(n, ast.FunctionDef) for n in ast.walk(ast.parse(source)))
    assert checked > 40  # the modules were read, their functions seen


def test_the_private_attribute_check_catches_what_train_py_once_did():
    # The patterns pipeline/train.py used before issue 28: the trainer's running loss sum and
    # last-logged step, reached from a callback, and two private hooks overridden.
    planted = textwrap.dedent(
        """
        class DevSelection(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                self.trainer._tr_loss.fill_(1.0)
                trainer = self.trainer
                trainer._globalstep_last_logged = 3

        class LengthGroupedTrainer(Trainer):
            def _get_train_sampler(self, train_dataset=None):
                return None

            def training_step(self, *args, **kwargs):
                norm = super()._clip_grad_norm(self.model)
                return self._tr_loss

        class Unrelated:
            def _helper(self):
                return self._cache
        """
    )
    assert trainer_private_uses(planted) == [
        "4: self.trainer._tr_loss",
        "6: trainer._globalstep_last_logged",
        "9: def _get_train_sampler",
        "13: super()._clip_grad_norm",
        "14: self._tr_loss",
    ]


def test_no_pipeline_code_touches_a_private_attribute_of_the_trainer():
    sources = sorted((REPO / "pipeline").rglob("*.py"))
    assert Path(REPO / "pipeline/lib/classifier_training.py") in sources
    offences = {
        str(file.relative_to(REPO)): uses
        for file in sources
        if (uses := trainer_private_uses(file.read_text()))
    }
    assert offences == {}
    # ... and the trainer subclass is there to be checked
    tree = ast.parse((REPO / "pipeline/lib/classifier_training.py").read_text())
    assert any(isinstance(n, ast.ClassDef) and _is_trainer_class(n) for n in ast.walk(tree))
