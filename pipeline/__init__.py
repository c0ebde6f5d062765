"""The Bias-in-Bios fine-tuning evaluation suite's pipeline: the map.

Stage modules (DVC runs each as ``python -m pipeline.<module>`` from a study directory; each
reads its own keys of that directory's ``params.yaml`` and writes what ``dvc.yaml`` declares;
the stages themselves, one per predictor or seed where they repeat, are listed in
docs/stages.md):

- ``check_params`` the whole ``params.yaml`` is valid, before any other stage runs
- ``prepare``      the dataset splits and the profile (share of women per profession)
- ``base_model``   the base GPT-2: a pinned hub reference, a local folder or the tiny demo model
- ``erase``        the LEACE eraser of gender for the base's representation, and leakage probes
- ``train``        one seed's run of a trained predictor (LoRA adapter + head, or head only;
                   ``train_erased``: a head behind the LEACE eraser)
- ``predict``      one model predictor's P(female) per bio (test split or probe texts)
- ``probe``        the counterfactual probe texts (gendered words swapped / removed)
- ``baselines``    one baseline fitted on the train split, predicting test and probe texts

The analysis stage's module is ``analysis.analyze``.

``pipeline.lib``: the library the stages, the analysis and the dashboard use (params schema,
paths, the catalogue, model loading, batch scoring, predictor loaders, baselines, tables and
prediction files, provenance, the synthetic sample, the tiny GPT-2). No library module imports
a stage module, and no stage imports another.

``pipeline.commands``: commands that are not stages: ``score`` (score your own bios with every
predictor of a study), ``studies`` (generate the demo's ``dvc.yaml`` from the root one) and
``sample`` (write a synthetic split to a file).

``pipeline/catalogue.yaml``: every predictor of a study (read by ``dvc.yaml`` and the code).
"""

from pipeline import _kernels

# Before numpy, scipy or torch load: one CPU kernel set on every machine (pipeline/_kernels.py).
_kernels.pin()
