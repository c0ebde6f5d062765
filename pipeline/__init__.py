"""DVC pipeline stages of the Bias-in-Bios LoRA evaluation suite.

Each stage is a module run as ``python -m pipeline.<stage>`` from a study directory (the repo
root for the real study, ``demo/`` for the offline demo); it reads its own section of that
directory's ``params.yaml`` and writes the outputs that ``dvc.yaml`` declares.
"""
