"""`python -m exporters`: export models into the model repository (what `make models` runs).

Idempotent: a model whose file, weights and settings match the manifest is skipped.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from exporters import efficientnet_lite, text_encoder

DEFAULT_MODELS = ["efficientnet_lite0", "efficientnet_lite2", "text_encoder"]
ALL_MODELS = [*DEFAULT_MODELS, "vgg16"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m exporters", description=__doc__)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help=f"comma-separated, from {ALL_MODELS}; vgg16 needs --vgg16-weights",
    )
    parser.add_argument(
        "--vgg16-weights",
        default="imagenet",
        help="'imagenet' (Keras downloads them: needs the internet), a local .h5 "
        "file, or 'random' (parity tests only)",
    )
    parser.add_argument("--force", action="store_true", help="export even when current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    for model in args.models.split(","):
        if model in efficientnet_lite.VARIANTS:
            efficientnet_lite.export(args.repository, model=model, force=args.force)
        elif model == text_encoder.MODEL_NAME:
            text_encoder.export(args.repository, force=args.force)
        elif model == "vgg16":
            from exporters import vgg16  # imports TensorFlow: only when asked for

            vgg16.export(args.repository, weights=args.vgg16_weights, force=args.force)
        else:
            parser.error(f"unknown model {model!r}; choose from {ALL_MODELS}")


if __name__ == "__main__":
    main()
