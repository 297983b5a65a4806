"""Request validation: pure functions that collect every violation, so one reply tells the
caller all that is wrong (google.rpc.BadRequest field violations)."""

from __future__ import annotations

import math

from server.config import Limits
from server.domain import Filter, InvalidArgumentError, Product, SearchOptions

MAX_REPORTED_VIOLATIONS = 20


def _text(violations: list, name: str, value: str, max_chars: int, required: bool = False) -> None:
    if required and not value.strip():
        violations.append((name, "must not be empty"))
    elif len(value) > max_chars:
        violations.append((name, f"is {len(value)} characters, more than {max_chars}"))
    elif "\x00" in value:
        violations.append((name, "must not contain NUL characters"))


def _price(violations: list, name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        violations.append((name, f"must be a finite number >= 0, got {value}"))


def product_violations(product: Product, has_image: bool, limits: Limits, prefix: str = "product") -> list:
    violations: list[tuple[str, str]] = []
    _text(violations, f"{prefix}.id", product.id, limits.max_id_chars, required=True)
    _text(violations, f"{prefix}.title", product.title, limits.max_text_chars)
    _text(violations, f"{prefix}.category", product.category, limits.max_category_chars)
    _text(violations, f"{prefix}.image_uri", product.image_uri, 2048)
    _price(violations, f"{prefix}.price", product.price)
    if len(product.attributes) > limits.max_attributes:
        violations.append(
            (
                f"{prefix}.attributes",
                f"has {len(product.attributes)} pairs, more than {limits.max_attributes}",
            )
        )
    for key, value in product.attributes.items():
        _text(
            violations, f"{prefix}.attributes[{key[:32]}]", key, limits.max_attribute_key_chars, required=True
        )
        _text(violations, f"{prefix}.attributes[{key[:32]}]", value, limits.max_attribute_value_chars)
    if not has_image:
        violations.append((f"{prefix}.image", "is required (JPEG, PNG or WebP bytes)"))
    return violations


def catalog_violations(display_name: str, description: str) -> list:
    violations: list[tuple[str, str]] = []
    _text(violations, "catalog.display_name", display_name, 200)
    _text(violations, "catalog.description", description, 1000)
    return violations


def check_filter(condition: Filter, limits: Limits, prefix: str = "options.filter") -> list:
    violations: list[tuple[str, str]] = []
    _price(violations, f"{prefix}.min_price", condition.min_price)
    _price(violations, f"{prefix}.max_price", condition.max_price)
    if (
        condition.min_price is not None
        and condition.max_price is not None
        and condition.min_price > condition.max_price
    ):
        violations.append((f"{prefix}.min_price", "must not be greater than max_price"))
    for category in condition.categories:
        _text(violations, f"{prefix}.categories", category, limits.max_category_chars)
    for key, value in condition.attributes:
        _text(violations, f"{prefix}.attributes", key, limits.max_attribute_key_chars, required=True)
        _text(violations, f"{prefix}.attributes", value, limits.max_attribute_value_chars)
    return violations


def check_options(options: SearchOptions, limits: Limits) -> None:
    violations = check_filter(options.filter, limits)
    if not 1 <= options.top_k <= limits.max_top_k:
        violations.append(("options.top_k", f"must be between 1 and {limits.max_top_k}, got {options.top_k}"))
    if not -1.0 <= options.min_score <= 1.0 or math.isnan(options.min_score):
        violations.append(("options.min_score", f"must be between -1 and 1, got {options.min_score}"))
    raise_if(violations)


def check_query_text(text: str, limits: Limits) -> None:
    violations: list[tuple[str, str]] = []
    _text(violations, "text", text, limits.max_text_chars, required=True)
    raise_if(violations)


def raise_if(violations: list[tuple[str, str]]) -> None:
    """Raise InvalidArgumentError for the violations, at most MAX_REPORTED_VIOLATIONS of them:
    the status travels in gRPC trailers, which clients refuse beyond 8-16 KiB (the caller
    would get RESOURCE_EXHAUSTED instead)."""
    if len(violations) > MAX_REPORTED_VIOLATIONS:
        listed = violations[: MAX_REPORTED_VIOLATIONS - 1]
        field, _ = violations[len(listed)]
        more = len(violations) - len(listed)
        violations = [*listed, (field, f"and {more} more violations ({len(violations)} in all)")]
    if violations:
        raise InvalidArgumentError(violations)
