"""How many execution environments each minute of traffic keeps busy.

Mean concurrency is arrival rate x duration (Little's law). Around that mean, the
number of requests in flight at a random instant is Poisson for random arrivals (an
M/G/infinity system, whatever the duration's distribution). Real traffic is burstier
than that; the *burst factor* ``D`` measured from the data (the median variance-to-mean
ratio of the per-minute counts within each busy hour, at least 1) widens it: requests in
flight are modelled as ``D x Poisson(mean / D)``, which has the measured mean and ``D``
times the Poisson variance. From that distribution:

* the work that ``n`` provisioned environments absorb is ``E[min(X, n)]``; the rest spills
  over to on-demand environments. For ``Y ~ Poisson(mu)`` it has the closed form
  ``E[min(Y, j)] = mu P(Y <= j - 2) + j P(Y >= j)``, computed for the levels asked for,
  so memory grows with the minutes of the profile, never with its concurrency;
* the peak in a minute is the quantile at ``1 - duration / 60 s`` (roughly the largest of
  the minute's independent looks at the system), at least 1 when there is any request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from capacity.profile import Traffic

MAX_BURST_FACTOR = 20.0
_BUSY_HOUR_MEAN = 5.0  # requests per minute: quieter hours say nothing about burstiness


def burst_factor(counts: np.ndarray) -> float:
    """Median variance/mean of per-minute counts within each busy whole hour, >= 1."""
    hours = counts[: counts.size // 60 * 60].reshape(-1, 60)
    means = hours.mean(axis=1)
    busy = means >= _BUSY_HOUR_MEAN
    if not busy.any():
        return 1.0
    ratios = hours[busy].var(axis=1) / means[busy]
    return float(min(MAX_BURST_FACTOR, max(1.0, float(np.median(ratios)))))


@dataclass
class Demand:
    """Per-minute requests, concurrency and its distribution for one function."""

    counts: np.ndarray
    duration_s: float
    burst: float

    @classmethod
    def of(cls, traffic: Traffic, duration_ms: float) -> Demand:
        return cls(traffic.counts, duration_ms / 1000, burst_factor(traffic.counts))

    def __post_init__(self) -> None:
        self.mean = self.counts / 60 * self.duration_s  # mean concurrency per minute
        self._mu = self.mean / self.burst
        quantile = 1 - min(0.5, self.duration_s / 60)
        peak = self.burst * stats.poisson.ppf(quantile, self._mu)
        self.peak = np.where(self.counts > 0, np.maximum(1, np.ceil(peak)), 0).astype(int)
        # Levels above this are never reached (P(Y >= j) < 1e-20, a Chernoff bound):
        # there E[min(Y, j)] is mu, and the Poisson functions need not be evaluated.
        self._reached = self._mu + 12 * np.sqrt(self._mu) + 30

    def absorbed(self, provisioned: np.ndarray) -> np.ndarray:
        """Mean busy provisioned environments, E[min(X, P)], for levels ``P`` per minute.

        Computed in closed form for the levels asked for: a table over every level up to
        the peak took minutes x peak floats (882 GiB for one minute of 10^12 requests).
        """
        units = np.broadcast_to(
            np.maximum(np.asarray(provisioned, dtype=float) / self.burst, 0), self._mu.shape
        )
        whole = np.floor(units)
        near = whole <= self._reached
        covered = self._mu.copy()
        j, mu = whole[near], self._mu[near]
        # E[min(Y, j)] = mu P(Y <= j - 2) + j P(Y >= j), linear up to j + 1, whose
        # increment is P(Y > j).
        covered[near] = (
            mu * stats.poisson.cdf(j - 2, mu)
            + j * stats.poisson.sf(j - 1, mu)
            + (units[near] - j) * stats.poisson.sf(j, mu)
        )
        absorbed: np.ndarray = np.minimum(self.burst * covered, self.mean)
        return absorbed

    def busy_probability(self, level: int) -> np.ndarray:
        """P(X >= level) per minute: how often the ``level``-th environment is in use."""
        busy: np.ndarray = np.asarray(stats.poisson.sf(math.ceil(level / self.burst) - 1, self._mu))
        return busy
