"""Held-out evaluation through the real gateway (`make eval-heldout`; `make eval` runs it too):
the protocol of evaluation/protocol.py measured on its dev part and its test part.

For each part, in a catalog of its own (`catalogs/heldout-dev`, `catalogs/heldout-test`):
index the part's Fashion-MNIST catalog without titles (UpsertProducts); image → image P@10
and mAP@10 with the part's test-split queries; for each of the part's two title vocabularies,
index its titled pool (outside the catalog), TrainProjection, delete the pool and ask every
query word of the part (so every hit comes through the projection); FindDuplicates, at the
service's default threshold, with a copy of each source product per edit family, distinct
products no catalog holds (as they are or edited) and catalog products sent as themselves.
Then the same copy measures on the part's half of Saleor's colour photos, in
`catalogs/heldout-photos-dev` / `-test`. Writes evaluation/HELDOUT.md, every figure marked
dev or test, with the issue's targets for the test part.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from bench.machine import describe_machine
from evaluation import protocol
from evaluation.gateway import evaluation_gateway, upsert
from evaluation.harness import average_precision_at_k
from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.config import Config
from server.tools import fashion_mnist
from server.tools.cli import chunks

CATEGORIES = protocol.CATEGORIES


@dataclass
class CopyResult:
    """FindDuplicates at the service's default threshold, one image kind of one part."""

    found: dict[str, list[bool]] = field(default_factory=dict)  # family → original found, per copy
    true_positives: int = 0
    false_positives: int = 0  # other products on copies, any product on distinct images
    same_product: int = 0  # false positives that are another photo of the source's product
    negatives: int = 0  # distinct images sent
    flagged: list[bool] = field(default_factory=list)  # per catalog product sent as itself
    flagged_same_product: int = 0  # flagged only by other photos of its own product

    @property
    def recall(self) -> float:
        copies = [hit for found in self.found.values() for hit in found]
        return float(np.mean(copies)) if copies else float("nan")

    @property
    def precision(self) -> float:
        answered = self.true_positives + self.false_positives
        return self.true_positives / answered if answered else 1.0

    @property
    def flagged_share(self) -> float:
        return float(np.mean(self.flagged)) if self.flagged else float("nan")


@dataclass
class PartResult:
    part: str
    precision: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in range(10)})
    average_precision: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in range(10)})
    head_precision: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in range(10)})
    head_average_precision: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in range(10)})
    head: pb.TrainImageHeadResponse | None = None  # TrainImageHead on the part's catalog
    keyword: dict[str, dict[protocol.Query, float]] = field(default_factory=dict)  # vocabulary → P@10
    trainings: dict[str, pb.TrainProjectionResponse] = field(default_factory=dict)
    copies: CopyResult = field(default_factory=CopyResult)  # Fashion-MNIST
    photos: CopyResult = field(default_factory=CopyResult)  # Saleor's colour photos
    photo_count: int = 0
    seconds: float = 0.0

    def image_p10(self, head: bool = False) -> float:
        precision = self.head_precision if head else self.precision
        return float(np.mean([p for ps in precision.values() for p in ps]))

    def keyword_p10(self, vocabulary: str, group: str, language: str | None = None) -> float:
        scores = [
            p
            for q, p in self.keyword[vocabulary].items()
            if q.group == group and (language is None or q.language == language)
        ]
        return float(np.mean(scores))


def png(image: Image.Image) -> bytes:
    """Lossless, fast to write: the edit is the only change a copy carries."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def product_id(index: int) -> str:
    return f"train-{index:05d}"


async def run(args: argparse.Namespace) -> dict[str, PartResult]:
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    splits = protocol.image_splits(train.labels, test.labels, args.sizes)
    if problems := protocol.overlaps(splits):
        raise RuntimeError(f"the protocol's image sets overlap: {problems}")
    photos = protocol.saleor_photos()
    photo_parts = protocol.saleor_split(list(photos))
    results = {}
    # A busy 2-core machine can take more than the default 10 s to embed a batch.
    async with evaluation_gateway(args.repository, "heldout-", Config(embed_timeout_s=120)) as stub:
        for part in protocol.PARTS:
            started = time.perf_counter()
            result = PartResult(part)
            split = splits[part]
            catalog = await create_catalog(stub, f"heldout-{part}")
            products = untitled_products(train, split.catalog)
            await index(stub, catalog, products, len(split.catalog), f"{part}: catalog (no titles)")
            await image_queries(stub, catalog, test, split.queries, result, head=False)
            result.head = await train_image_head(stub, catalog)
            await image_queries(stub, catalog, test, split.queries, result, head=True)
            for vocabulary in protocol.PART_VOCABULARIES[part]:
                await keyword_queries(stub, catalog, train, split, vocabulary, result)
            await copy_queries(
                stub,
                catalog,
                part,
                sources={product_id(i): image(train, i) for i in split.copies},
                negatives={f"test-{i:05d}": image(test, i) for i in split.negatives},
                flagged={product_id(i): image(train, i) for i in split.flagged},
                draws=1,
                result=result.copies,
            )
            photo_catalog = await create_catalog(stub, f"heldout-photos-{part}")
            names = photo_parts[part]
            result.photo_count = len(names)
            await index(
                stub,
                photo_catalog,
                (pb.Product(id=name, image=png(photos[name])) for name in names),
                len(names),
                f"{part}: Saleor photos",
            )
            await copy_queries(
                stub,
                photo_catalog,
                part,
                sources={name: photos[name] for name in names},
                negatives=protocol.photo_negatives(part),
                flagged={name: photos[name] for name in names},
                draws=args.photo_draws,
                result=result.photos,
                negatives_through_every_family=True,
            )
            result.seconds = time.perf_counter() - started
            results[part] = result
    return results


def image(split: fashion_mnist.Split, index: int) -> Image.Image:
    return Image.fromarray(split.rgb(int(index)))


def untitled_products(train: fashion_mnist.Split, indices: Iterable[int]) -> Iterator[pb.Product]:
    """Catalog products without titles, by train-split index."""
    for i in indices:
        yield pb.Product(id=product_id(i), category=CATEGORIES[train.labels[i]], image=png(image(train, i)))


def titled_pool(
    train: fashion_mnist.Split, indices: np.ndarray, vocabulary: str, part: str
) -> list[pb.Product]:
    """A part's titled pool, titled from one vocabulary (protocol.titles)."""
    labels = train.labels[indices]
    titles = protocol.titles(vocabulary, part, labels)
    return [
        pb.Product(id=f"titled-{i:05d}", title=title, category=CATEGORIES[label], image=png(image(train, i)))
        for i, title, label in zip(indices, titles, labels, strict=True)
    ]


async def create_catalog(stub: pb_grpc.ProductSearchStub, catalog_id: str) -> str:
    response = await stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id=catalog_id))
    return response.catalog.name


async def index(
    stub: pb_grpc.ProductSearchStub, catalog: str, products: Iterable[pb.Product], total: int, label: str
) -> None:
    with tqdm(total=total, unit="product", desc=label) as bar:
        for chunk in chunks(iter(products), 256):
            bar.update(await upsert(stub, chunk, catalog))


async def train_image_head(stub, catalog: str) -> pb.TrainImageHeadResponse:
    """TrainImageHead on the catalog's categories; returns once searches use the head."""
    trained = await stub.TrainImageHead(pb.TrainImageHeadRequest(catalog=catalog), timeout=3600)
    while trained.model not in [
        m.name for m in (await stub.GetStats(pb.GetStatsRequest(catalog=catalog))).models
    ]:
        await asyncio.sleep(0.5)
    return trained


async def image_queries(
    stub, catalog: str, test: fashion_mnist.Split, queries, result: PartResult, head: bool
) -> None:
    precision = result.head_precision if head else result.precision
    average_precision = result.head_average_precision if head else result.average_precision
    label = "image → image, catalog-trained head" if head else "image → image"
    for i in tqdm(queries, unit="query", desc=f"{result.part}: {label}"):
        category = int(test.labels[i])
        request = pb.SearchByImageRequest(
            image=png(image(test, i)), options=pb.SearchOptions(top_k=10), catalog=catalog
        )
        response = await stub.SearchByImage(request)
        relevant = [hit.product.category == CATEGORIES[category] for hit in response.hits]
        precision[category].append(float(np.sum(relevant[:10]) / 10))
        average_precision[category].append(average_precision_at_k(relevant))


async def keyword_queries(stub, catalog: str, train, split, vocabulary: str, result: PartResult) -> None:
    """Titled pool in, TrainProjection, pool out, then every query word of the part: the
    untitled catalog can answer only through the projection."""
    pool = titled_pool(train, split.titled, vocabulary, result.part)
    await index(stub, catalog, pool, len(pool), f"{result.part}: titled pool ({vocabulary})")
    result.trainings[vocabulary] = await stub.TrainProjection(pb.TrainProjectionRequest(catalog=catalog))
    for start in range(0, len(pool), 1000):
        ids = [p.id for p in pool[start : start + 1000]]
        await stub.DeleteProducts(pb.DeleteProductsRequest(ids=ids, catalog=catalog))
    scores = result.keyword.setdefault(vocabulary, {})
    for query in protocol.query_words(result.part):
        request = pb.SearchByTextRequest(text=query.text, options=pb.SearchOptions(top_k=10), catalog=catalog)
        response = await stub.SearchByText(request)
        relevant = [hit.product.category == CATEGORIES[query.category] for hit in response.hits]
        scores[query] = float(np.sum(relevant[:10]) / 10)


async def copy_queries(
    stub,
    catalog: str,
    part: str,
    sources: dict[str, Image.Image],
    negatives: dict[str, Image.Image],
    flagged: dict[str, Image.Image],
    draws: int,
    result: CopyResult,
    negatives_through_every_family: bool = False,
) -> None:
    """FindDuplicates at the service's default threshold (threshold 0 in the request).
    Distinct images go as they are and through every family, or (many of them) through one
    family each, in turn."""

    async def duplicates(picture: Image.Image) -> list[str]:
        request = pb.FindDuplicatesRequest(image=png(picture), max_results=10, catalog=catalog)
        return [hit.product.id for hit in (await stub.FindDuplicates(request)).hits]

    jobs = [(s, f, d) for s in sources for f in protocol.FAMILIES for d in range(draws)]
    for source, family, draw in tqdm(jobs, unit="copy", desc=f"{part}: copies ({catalog})"):
        copy = protocol.edit(sources[source], family, protocol.copy_rng(part, source, family, draw))
        hits = await duplicates(copy)
        result.found.setdefault(family, []).append(source in hits)
        result.true_positives += source in hits
        others = [hit for hit in hits if hit != source]
        result.false_positives += len(others)
        result.same_product += sum(
            protocol.photo_product(hit) == protocol.photo_product(source) for hit in others
        )
    for n, (name, picture) in enumerate(negatives.items()):
        every = ("none", *protocol.FAMILIES)
        families = every if negatives_through_every_family else (protocol.negative_family(n),)
        for family in families:
            hits = await duplicates(protocol.edit(picture, family, protocol.copy_rng(part, name, family)))
            result.negatives += 1
            result.false_positives += len(hits)
    for name, picture in tqdm(
        flagged.items(), unit="product", desc=f"{part}: catalog products as themselves"
    ):
        others = [hit for hit in await duplicates(picture) if hit != name]
        result.flagged.append(bool(others))
        own = protocol.photo_product(name)
        result.flagged_same_product += bool(others) and all(protocol.photo_product(h) == own for h in others)


# -- the report -----------------------------------------------------------------------------


def verdict(measure: str, value: float) -> str:
    bound, sense = protocol.TARGETS[measure]
    met = value >= bound if sense == ">=" else value <= bound
    return "met" if met else f"missed by {abs(value - bound):.3f}"


def target_text(measure: str) -> str:
    bound, sense = protocol.TARGETS[measure]
    return f"{'≥' if sense == '>=' else '≤'} {bound:g}"


def targets_table(results: dict[str, PartResult]) -> str:
    dev, test = results["dev"], results["test"]
    rows = [
        ("image → image P@10, image model alone", "image P@10", test.image_p10(), dev.image_p10()),
        (
            "image → image P@10, catalog-trained head (TrainImageHead)",
            "image P@10",
            test.image_p10(head=True),
            dev.image_p10(head=True),
        ),
    ]
    for (dev_vocabulary, test_vocabulary), shop in zip(
        zip(*protocol.PART_VOCABULARIES.values(), strict=True), ("English", "Chinese"), strict=True
    ):
        for group in protocol.GROUPS:
            rows.append(
                (
                    f"keyword, {protocol.GROUP_NAMES[group]} ({shop} shop titles)",
                    group,
                    test.keyword_p10(test_vocabulary, group),
                    dev.keyword_p10(dev_vocabulary, group),
                )
            )
    for kind, label in (("copies", "Fashion-MNIST"), ("photos", "colour photos")):
        t, d = getattr(test, kind), getattr(dev, kind)
        worst_t = min(t.found, key=lambda f: np.mean(t.found[f]))
        worst_d = min(d.found, key=lambda f: np.mean(d.found[f]))
        rows += [
            (f"copy recall, {label}", "copy recall", t.recall, d.recall),
            (f"copy precision, {label}", "copy precision", t.precision, d.precision),
            (
                f"worst family's recall, {label} (test: {worst_t}; dev: {worst_d})",
                "family recall",
                float(np.mean(t.found[worst_t])),
                float(np.mean(d.found[worst_d])),
            ),
            (
                f"distinct catalog products flagged, {label}",
                "flagged share",
                t.flagged_share,
                d.flagged_share,
            ),
        ]
    lines = [
        "| measure | target | **test** | verdict (test) | dev |",
        "|---|---:|---:|---|---:|",
    ]
    lines += [
        f"| {label} | {target_text(measure)} | **{t:.3f}** | {verdict(measure, t)} | {d:.3f} |"
        for label, measure, t, d in rows
    ]
    return "\n".join(lines)


def image_table(results: dict[str, PartResult]) -> str:
    """P@10 and mAP@10 per category, with the image model alone and through the head."""
    measures = [
        ("precision", "P@10"),
        ("average_precision", "mAP@10"),
        ("head_precision", "P@10 head"),
        ("head_average_precision", "mAP@10 head"),
    ]
    header = [
        f"{part} {label}" if part == "dev" else f"**test {label}**"
        for part in protocol.PARTS
        for _, label in measures
    ]
    lines = ["| category | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    for c, name in enumerate(CATEGORIES):
        cells = [
            f"{np.mean(getattr(results[part], m)[c]):.3f}" for part in protocol.PARTS for m, _ in measures
        ]
        lines.append(f"| {name} ({fashion_mnist.CATEGORIES_ZH[c]}) | " + " | ".join(cells) + " |")
    overall = [
        f"**{np.mean([p for ps in getattr(results[part], m).values() for p in ps]):.3f}**"
        for part in protocol.PARTS
        for m, _ in measures
    ]
    return "\n".join([*lines, "| **all** | " + " | ".join(overall) + " |"])


def head_trainings(results: dict[str, PartResult]) -> str:
    lines = [
        "| part | version | products | categories | held out | epoch kept | fit s"
        " | held-out P@10 before → after |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for part in protocol.PARTS:
        h = results[part].head
        assert h is not None
        lines.append(
            f"| {part} | {h.version} | {h.products:,} | {h.categories} | {h.held_out} | {h.epochs} |"
            f" {h.seconds:.0f} | {h.precision_at_10_before:.3f} → {h.precision_at_10_after:.3f} |"
        )
    return "\n".join(lines)


def keyword_table(results: dict[str, PartResult]) -> str:
    settings = [(part, v) for part in protocol.PARTS for v in protocol.PART_VOCABULARIES[part]]
    header = " | ".join(f"{'**test**' if p == 'test' else 'dev'}, {v} titles" for p, v in settings)
    lines = [f"| query group | words per part | {header} |", "|---|---:|" + "---:|" * len(settings)]
    for group in protocol.GROUPS:
        count = sum(q.group == group for q in protocol.query_words("test"))
        cells = " | ".join(f"{results[p].keyword_p10(v, group):.3f}" for p, v in settings)
        lines.append(f"| {protocol.GROUP_NAMES[group]} | {count} | {cells} |")
    languages = sorted({q.language for q in protocol.query_words("test") if q.group == "other-languages"})
    for language in languages:
        cells = " | ".join(
            f"{results[p].keyword_p10(v, 'other-languages', language):.3f}" for p, v in settings
        )
        lines.append(f"| &nbsp;&nbsp;of which {language} | 10 | {cells} |")
    return "\n".join(lines)


def category_keyword_table(results: dict[str, PartResult]) -> str:
    """P@10 per category over all of a setting's query words."""
    settings = [(part, v) for part in protocol.PARTS for v in protocol.PART_VOCABULARIES[part]]
    header = " | ".join(f"{'**test**' if p == 'test' else 'dev'}, {v}" for p, v in settings)
    lines = [f"| category | {header} |", "|---|" + "---:|" * len(settings)]
    for c, name in enumerate(CATEGORIES):
        cells = " | ".join(
            f"{np.mean([s for q, s in results[p].keyword[v].items() if q.category == c]):.3f}"
            for p, v in settings
        )
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def weak_dev_words(result: PartResult) -> str:
    """Dev words answered worst (P@10 ≤ 0.3), for tuning; test words are never listed."""
    parts = []
    for vocabulary, scores in result.keyword.items():
        weak = sorted((s, q.text, CATEGORIES[q.category]) for q, s in scores.items() if s <= 0.3)
        words = ", ".join(f"{text} ({category}, {s:.1f})" for s, text, category in weak) or "none"
        parts.append(f"- dev, {vocabulary} titles: {words}")
    return "\n".join(parts)


def trainings(results: dict[str, PartResult]) -> str:
    return "\n".join(
        f"- {part}, `{vocabulary}` titles: {t.pairs} pairs, "
        f"method {t.method}, {t.epochs} epochs kept, {t.seconds:.1f} s"
        for part, result in results.items()
        for vocabulary, t in result.trainings.items()
    )


def copy_table(results: dict[str, PartResult]) -> str:
    columns = [(part, kind) for kind in ("copies", "photos") for part in protocol.PARTS]
    names = {"copies": "Fashion-MNIST", "photos": "photos"}
    header = " | ".join(f"{'**test**' if p == 'test' else 'dev'} {names[k]}" for p, k in columns)
    lines = [f"| | {header} |", "|---|" + "---:|" * len(columns)]
    for family in protocol.FAMILIES:
        cells = " | ".join(f"{np.mean(getattr(results[p], k).found[family]):.3f}" for p, k in columns)
        lines.append(f"| recall: {family} | {cells} |")

    def row(label: str, value) -> str:
        return f"| {label} | " + " | ".join(value(getattr(results[p], k)) for p, k in columns) + " |"

    lines += [
        row("**recall, all copies**", lambda r: f"**{r.recall:.3f}**"),
        row("copies sent", lambda r: str(sum(len(f) for f in r.found.values()))),
        row("**precision**", lambda r: f"**{r.precision:.3f}**"),
        row("false positives", lambda r: str(r.false_positives)),
        row("of which another photo of the same product", lambda r: str(r.same_product)),
        row("distinct images sent (not in the catalog)", lambda r: str(r.negatives)),
        row("**distinct catalog products flagged**", lambda r: f"**{r.flagged_share:.3f}**"),
        row("of which only by another photo of the same product", lambda r: str(r.flagged_same_product)),
        row("catalog products sent as themselves", lambda r: str(len(r.flagged))),
    ]
    return "\n".join(lines)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def render(results: dict[str, PartResult], args: argparse.Namespace, seconds: float) -> str:
    sizes = args.sizes
    threshold = Config().duplicate_threshold
    command = (
        f"python -m evaluation.heldout --catalog {sizes.catalog} --titled {sizes.titled}"
        f" --queries {sizes.queries} --copies {sizes.copies} --flagged {sizes.flagged}"
        f" --negatives {sizes.negatives} --photo-draws {args.photo_draws}"
    )
    vocabularies = "\n".join(
        f"- {part}: " + ", ".join(f"`{v}` ({protocol.VOCABULARIES[v].about})" for v in vocabs)
        for part, vocabs in protocol.PART_VOCABULARIES.items()
    )
    dev, test = results["dev"], results["test"]
    photo_counts = ", ".join(f"{part} {results[part].photo_count}" for part in protocol.PARTS)
    return f"""# Held-out evaluation (issue 12): dev and test

Every figure says which part it comes from. **Dev** is the part to tune on; **test** is
only reported: the protocol (evaluation/protocol.py, seeds fixed in code) was fixed before
anything was tuned on it, and nothing may be chosen by looking at a test figure.

- command: `{command}` (`make eval-heldout`, also run by `make eval`)
- machine: {describe_machine()}; date: {datetime.date.today().isoformat()}; load average at the start:
  {args.load_average}; took {minutes(seconds)} min (dev {minutes(dev.seconds)}, test {minutes(test.seconds)})
- gateway: this repository's, in-process, the embedded Triton, image model {Config().image_model},
  every call through the gRPC API; each part in catalogs of its own
- sizes per part (Fashion-MNIST): {sizes.catalog} catalog products (train split, no titles);
  {sizes.titled} titled pool products (train split, outside every catalog); {sizes.queries} image
  queries (test split); {sizes.copies} copy sources × {len(protocol.FAMILIES)} edit families;
  {sizes.negatives} distinct test-split products; {sizes.flagged} catalog products sent as themselves
- colour photos: Saleor's, split by product ({photo_counts}), each copied {args.photo_draws} time(s)
  per family; {len(protocol.SKIMAGE_NEGATIVES["dev"])} photos in no catalog per part
- a smaller run measures a subset of the full-size parts (the same images, words and draws)

## Targets (issue 12, on the test part)

{targets_table(results)}

The Chinese category names are the same ten words in both parts (the target names them); every
other query word belongs to one part only (evaluation/protocol.py lists them).

## Image → image (untitled catalog, a hit is relevant when its category matches)

{image_table(results)}

"head": after `TrainImageHead` on the part's catalog (its categories are the labels; the
settings of `server/models/image_head.py` and the two augmented views per product were
chosen on the dev part alone, evaluation/HEAD_TRIAL.md) and its roll-out, the same queries
again through the gateway. Its own held-out figures come from a tenth of the catalog kept
out of the fit ("fit s" includes embedding the views):

{head_trainings(results)}

## Keyword → untitled images

Per part and title vocabulary: the part's titled pool is indexed with that vocabulary's
titles, `TrainProjection` fits the projection, the pool is deleted, and every query word of
the part is asked (top 10 of the untitled catalog, a hit relevant when its category matches).
No title of a part's vocabularies holds a query word of that part (`protocol.title_leaks`).
Vocabularies:

{vocabularies}

Trainings:

{trainings(results)}

P@10 by query group (the Chinese category names are the same ten words in both parts):

{keyword_table(results)}

P@10 by category, every query word of the part:

{category_keyword_table(results)}

Dev words answered worst (test words are not listed, so that nobody tunes to them):

{weak_dev_words(results["dev"])}

## Copy detection (FindDuplicates at the service's default threshold, {threshold})

Each source product (in the catalog) is copied once per edit family and draw
(evaluation/protocol.py `FAMILIES`: parameters drawn from ranges, seeded per part, source,
family and draw); a copy is found when its source is among the hits. Every other hit of a
copy, and every hit of an image no catalog holds (Fashion-MNIST test-split products, as
they are or edited through each family in turn; photos from scikit-image, as they are and
through every family), is a false positive. "Distinct catalog products flagged": catalog
products sent unedited that bring back another catalog product.

{copy_table(results)}

## Why the targets are missed (from dev analyses; nothing here was chosen on test)

- **Image → image P@10 (0.90)**: the head is a small network over the frozen image model's
  embeddings of 28 px grey thumbnails (evaluation/HEAD_TRIAL.md: the best dev setting of a
  sweep reached 0.88); closing the last points needs the backbone itself tuned, which this
  CPU-only machine does not do within the service's training call.
- **Keyword → image**: a keyword reaches untitled images through the text encoder and the
  projection fitted on the catalog's titles, spans of them and its category names (spans
  and categories lifted the dev mean P@10 from 0.80 to 0.84 with English shop titles and
  from 0.64 to 0.76 with Chinese ones, evaluation/PROJECTION_TRIAL.md). Query words whose
  text-encoder neighbours among those texts name another kind of product are still lost
  before the projection (the dev words listed above); query-time feedback in image space
  and attention over titles changed dev figures by 0.02 at most (FEEDBACK_TRIAL.md).
- **Copies of Fashion-MNIST**: a 28 px original has no keypoints, so its copies rest on the
  grey descriptor, its best cells (overlays: dev text 0.90, logos 0.92) and template matching
  (crops at the original's scale). A rotation between the query's turned-back angles, a blur
  stronger than the stored blurred copy, and two or three edits together move every cell of
  the grid a little, which neither the whole cosine at 0.997 nor the best cells forgive (dev
  rotate 0.75, blur 0.51, combo 0.48); lowering the bar for them cost precision in every dev
  trial (evaluation/COPY_TRIAL.md).
- **Copies of colour photos**: Saleor's photos are renders of shared templates. Other views of
  one product and flavours of one bottle whose hues differ by less than a colour edit's shift
  pass the geometric and colour checks (dev: 17 of 25 false positives are another view of the
  same product); precision and photos flagged miss for that. Heavy crops (up to a quarter per
  side) keep too little of the catalog photo for the geometric gate's 30 % spread, which keeps
  template mates out: a looser gate found dev crops 0.33 → 0.91 but lowered precision
  (evaluation/COLOUR_TRIAL.md).
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = protocol.Sizes()
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--catalog", type=int, default=defaults.catalog, help="catalog products per part")
    parser.add_argument("--titled", type=int, default=defaults.titled, help="titled pool per part")
    parser.add_argument("--queries", type=int, default=defaults.queries, help="image queries per part")
    parser.add_argument("--copies", type=int, default=defaults.copies, help="copy sources per part")
    parser.add_argument(
        "--flagged", type=int, default=defaults.flagged, help="catalog products sent as themselves"
    )
    parser.add_argument(
        "--negatives", type=int, default=defaults.negatives, help="distinct products per part"
    )
    parser.add_argument("--photo-draws", type=int, default=3, help="copies per photo and family")
    parser.add_argument("--output", type=Path, default=Path("evaluation/HELDOUT.md"))
    args = parser.parse_args()
    args.sizes = protocol.Sizes(
        catalog=args.catalog,
        titled=args.titled,
        queries=args.queries,
        copies=args.copies,
        flagged=args.flagged,
        negatives=args.negatives,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.load_average = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    started = time.perf_counter()
    results = asyncio.run(run(args))
    report = render(results, args, time.perf_counter() - started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
