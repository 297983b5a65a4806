"""Fashion-MNIST (Debian package `dataset-fashion-mnist`): 70,000 Zalando product images,
28x28 grey, 10 categories. Real product images to index, evaluate and demo with."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CATEGORIES_EN = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CATEGORIES_ZH = ["T恤", "裤子", "套头衫", "连衣裙", "外套", "凉鞋", "衬衫", "运动鞋", "包", "短靴"]

# English listing titles as a shop writes them (the dataset has only labels): an optional
# audience and material before one of the category's usual names. Chosen once, before any
# measurement, and never containing the Chinese query words.
TITLE_NAMES = [
    ["t-shirt", "tee", "tank top", "crop top", "graphic tee", "short sleeve t-shirt"],
    ["trousers", "pants", "jeans", "slacks", "leggings", "chinos"],
    ["pullover", "sweater", "jumper", "knit sweater", "sweatshirt", "hoodie"],
    ["dress", "summer dress", "maxi dress", "evening dress", "sundress", "midi dress"],
    ["coat", "jacket", "winter coat", "parka", "trench coat", "puffer jacket"],
    ["sandals", "flip flops", "slides", "strappy sandals", "summer sandals", "heeled sandals"],
    ["shirt", "button-down shirt", "blouse", "flannel shirt", "dress shirt", "long sleeve shirt"],
    ["sneakers", "running shoes", "trainers", "sports shoes", "athletic shoes", "canvas shoes"],
    ["bag", "handbag", "backpack", "tote bag", "purse", "shoulder bag"],
    ["ankle boots", "boots", "chelsea boots", "leather boots", "booties", "suede ankle boots"],
]
TITLE_AUDIENCES = ["", "women's ", "men's ", "classic ", "casual ", "new "]
TITLE_MATERIALS = ["", "", "", "cotton ", "leather ", "knit ", "denim ", "lightweight "]


def english_title(label: int, rng: np.random.Generator) -> str:
    """A listing title for a product of category `label`, e.g. "women's cotton sneakers"."""
    audience = TITLE_AUDIENCES[rng.integers(len(TITLE_AUDIENCES))]
    material = TITLE_MATERIALS[rng.integers(len(TITLE_MATERIALS))]
    names = TITLE_NAMES[label]
    return audience + material + names[rng.integers(len(names))]


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 [N, 28, 28]
    labels: np.ndarray  # int64 [N], index into CATEGORIES_EN

    def __len__(self) -> int:
        return len(self.labels)

    def rgb(self, index: int) -> np.ndarray:
        """One image as uint8 [28, 28, 3]."""
        return np.repeat(self.images[index][:, :, None], 3, axis=2)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split: str = "train", directory: Path = DEFAULT_DIR) -> Split:
    """`split` is "train" (60,000) or "test" (10,000)."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = directory / f"{prefix}-images-idx3-ubyte.gz"
    if not images.exists():
        raise FileNotFoundError(f"{images} not found: apt-get install dataset-fashion-mnist")
    return Split(_read_idx(images), _read_idx(directory / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))


def stratified(split: Split, per_category: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_category` random images of each category, shuffled."""
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(split.labels == c), per_category, replace=False)
        for c in range(len(CATEGORIES_EN))
    ]
    return rng.permutation(np.concatenate(picked))
