"""Run DVC stage commands in ONE interpreter: ``python -m tests.run_stages 'python -m X a' ...``.

Each command (as ``dvc repro --dry`` prints it, ``python -m <module> <args>``) runs through the
module's own ``__main__`` with its own ``sys.argv``, in order, in the current directory, so the
suite's imports (torch, transformers, peft: seconds per process) are paid once for all of them.
``pipeline`` is imported first, so the kernel pin is that of a stage process. Exits with the
first failing command's status, after printing which one failed.
"""

# isort: off
import pipeline  # noqa: F401  first: pins the CPU kernels before numpy loads (_kernels.py)

# isort: on
import runpy
import shlex
import sys


def run(command: str) -> int:
    words = shlex.split(command)
    if words[:2] != ["python", "-m"] or len(words) < 3:
        print(f"not a stage command: {command!r}", file=sys.stderr)
        return 2
    sys.argv = [words[2], *words[3:]]
    try:
        runpy.run_module(words[2], run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return code
    return 0


def main(commands: list[str]) -> int:
    for command in commands:
        code = run(command)
        if code != 0:
            print(f"stage command failed ({code}): {command}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
