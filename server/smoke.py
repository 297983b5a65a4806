"""Model smoke check (`make demo` until the gateway lands): start the embedded Triton, embed
real photos and Chinese/English keywords through it, and print what matches what."""

from __future__ import annotations

import argparse
import asyncio
import logging
import unicodedata
from pathlib import Path

import numpy as np

from exporters.text_encoder import sentencepiece_model
from server.embedding import EmbeddingClient
from server.text import Tokenizer
from server.triton_runtime import EmbeddedTriton

KEYWORDS_ZH = ["运动鞋", "连衣裙", "红色手机", "包", "裤子"]
KEYWORDS_EN = ["sneakers", "dress", "red mobile phone", "bag", "trousers"]


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(title: str, rows: list[str], columns: list[str], scores: np.ndarray) -> str:
    width = max(len(c) for c in columns) + 2
    lines = [title, " " * 12 + "".join(c.rjust(width) for c in columns)]
    for row, values in zip(rows, scores, strict=True):
        best = int(values.argmax())
        cells = [(f"*{v:.3f}" if i == best else f"{v:.3f}").rjust(width) for i, v in enumerate(values)]
        lines.append(row + " " * (12 - display_width(row)) + "".join(cells))
    return "\n".join(lines)


async def run(url: str, image_model: str) -> None:
    from skimage import data

    names = ["chelsea", "coffee", "astronaut", "rocket"]
    photos = [getattr(data, n)() for n in names]
    # Altered copies: mirrored, cropped to the centre, darkened.
    copies = [
        photos[0][:, ::-1],
        photos[1][50:350, 80:520],
        (photos[2] * 0.6).astype(np.uint8),
        photos[3][:, ::-1],
    ]
    async with EmbeddingClient(url, Tokenizer(sentencepiece_model()), timeout_s=30) as client:
        originals = await client.embed_images(image_model, photos)
        altered = await client.embed_images(image_model, copies)
        zh = await client.embed_texts(KEYWORDS_ZH)
        en = await client.embed_texts(KEYWORDS_EN)
    print(
        table(f"altered copy → original photo, cosine ({image_model})", names, names, altered @ originals.T)
    )
    print()
    print(
        table("Chinese keyword → English keyword, cosine (text_encoder)", KEYWORDS_ZH, KEYWORDS_EN, zh @ en.T)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--image-model", default="efficientnet_lite0")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with EmbeddedTriton(args.repository, [args.image_model, "text_encoder"]) as triton:
        asyncio.run(run(triton.url, args.image_model))


if __name__ == "__main__":
    main()
