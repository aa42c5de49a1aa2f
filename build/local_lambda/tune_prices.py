"""Lambda prices, read from the versioned table ``data/lambda_prices.json``.

Prices are data, not code: each carries its source URL, the date it was checked and
whether AWS's own page confirmed it. ``local-lambda tune`` and ``capacity plan`` both
price through :class:`Prices`, so the two never disagree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

ARCHITECTURES = ("arm64", "x86_64")
MB_PER_GB = 1024


class PriceError(ValueError):
    """The price table has no price for what was asked."""


@dataclass(frozen=True)
class DurationTier:
    up_to_gb_s: float | None
    price: float


@dataclass(frozen=True)
class Prices:
    """The prices of one architecture in one region."""

    version: str
    region: str
    architecture: str
    request_per_million: float
    duration_tiers: tuple[DurationTier, ...]
    provisioned_gb_s: float
    provisioned_duration_gb_s: float
    unconfirmed: tuple[str, ...]

    @property
    def duration_gb_s(self) -> float:
        """First-tier price: what one more GB-second costs below 6 (arm: 7.5) billion a month."""
        return self.duration_tiers[0].price

    def duration_cost(self, gb_s: float) -> float:
        """On-demand duration cost of ``gb_s`` GB-seconds in one month, through the tiers."""
        cost, below = 0.0, 0.0
        for tier in self.duration_tiers:
            ceiling = math.inf if tier.up_to_gb_s is None else tier.up_to_gb_s
            in_tier = max(0.0, min(gb_s, ceiling) - below)
            cost += in_tier * tier.price
            below = ceiling
            if gb_s <= ceiling:
                break
        return cost

    def invocation_cost(self, billed_ms: float, memory_mb: int) -> float:
        """One on-demand invocation (first tier): billed duration and the request."""
        return gb_seconds(billed_ms, memory_mb) * self.duration_gb_s + self.request_cost

    @property
    def request_cost(self) -> float:
        return self.request_per_million / 1e6

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "region": self.region,
            "architecture": self.architecture,
            "request_per_million_usd": self.request_per_million,
            "duration_gb_s_usd": self.duration_gb_s,
            "provisioned_concurrency_gb_s_usd": self.provisioned_gb_s,
            "provisioned_duration_gb_s_usd": self.provisioned_duration_gb_s,
            "unconfirmed_from_aws": list(self.unconfirmed),
        }


def gb_seconds(duration_ms: float, memory_mb: int) -> float:
    return duration_ms / 1000 * memory_mb / MB_PER_GB


def billed_ms(duration_ms: float) -> int:
    """Lambda rounds billed duration up to the next millisecond."""
    return max(1, math.ceil(duration_ms))


def load_table() -> dict[str, Any]:
    text = resources.files("local_lambda").joinpath("data/lambda_prices.json").read_text()
    table: dict[str, Any] = json.loads(text)
    return table


def prices_for(architecture: str, region: str, table: dict[str, Any] | None = None) -> Prices:
    """The prices for ``architecture`` in ``region``; a clear error where the table has none."""
    table = table or load_table()
    if architecture not in ARCHITECTURES:
        raise PriceError(f"architecture {architecture!r}: use one of {', '.join(ARCHITECTURES)}")
    regions = table["region_tiers"]
    if region not in regions:
        raise PriceError(
            f"region {region!r} has no price tier in local_lambda/data/lambda_prices.json "
            f"(known: {', '.join(sorted(regions))}); add it with its source and date"
        )
    tier_name = regions[region]["tier"]
    tier = table["tiers"][tier_name]
    arch = tier["architectures"][architecture]
    entries = {
        "region": regions[region],
        "request_per_million": tier["request_per_million"],
        **{name: arch[name] for name in arch},
    }
    unconfirmed = tuple(sorted(n for n, e in entries.items() if not e["confirmed_from_aws"]))
    return Prices(
        version=table["version"],
        region=region,
        architecture=architecture,
        request_per_million=float(tier["request_per_million"]["value"]),
        duration_tiers=tuple(
            DurationTier(t["up_to_gb_s"], float(t["price"])) for t in arch["duration_gb_s"]["tiers"]
        ),
        provisioned_gb_s=float(arch["provisioned_concurrency_gb_s"]["value"]),
        provisioned_duration_gb_s=float(arch["provisioned_duration_gb_s"]["value"]),
        unconfirmed=unconfirmed,
    )
