"""Traffic profiles: requests per minute, from a CloudWatch export or a named synthetic week.

The CSV is the shape of CloudWatch's ``Invocations`` metric (statistic Sum) at a 60 s
period: the header ``timestamp,count``, then rows with ISO 8601 timestamps on whole
minutes. How it is handled, and said in the plan's notes:

* a minute with no row counts as 0 requests: CloudWatch returns no datapoint for a
  minute without invocations, so gaps are normal;
* a timestamp given twice keeps one row when the counts agree (overlapping exports) and
  the larger count when they do not (capacity errs on the safe side);
* a timestamp without a zone is read as UTC (CloudWatch's own timestamps are UTC).

Anything else (another header, no rows, a bad timestamp, a count that is not a number,
is negative or is more than one function can serve in a minute, less than a week of
data) is an error naming the line and what to do.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from capacity.limits import MAX_CONCURRENCY, MAX_REQUESTS_PER_MINUTE

MINUTES_PER_WEEK = 7 * 24 * 60
HEADER = ("timestamp", "count")
MINUTE = dt.timedelta(minutes=1)
_SHOWN = 5  # line numbers quoted per kind of note


class ProfileError(ValueError):
    """The traffic profile cannot be used; the message names the line and the fix."""


@dataclass
class Traffic:
    """Requests in each minute from ``start`` (UTC), and what was noticed reading them."""

    start: dt.datetime
    counts: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return int(self.counts.size)

    def timestamps(self) -> list[dt.datetime]:
        return [self.start + i * MINUTE for i in range(self.minutes)]


def _parse_time(text: str, line: int) -> tuple[dt.datetime, bool]:
    value = text.strip()
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ProfileError(
            f"line {line}: timestamp {value!r} is not ISO 8601 (e.g. 2026-11-02T08:00:00Z)"
        ) from None
    naive = stamp.tzinfo is None
    stamp = stamp.replace(tzinfo=dt.UTC) if naive else stamp.astimezone(dt.UTC)
    if stamp.second or stamp.microsecond:
        raise ProfileError(
            f"line {line}: timestamp {value!r} is not on a whole minute; export the metric "
            "with a 60 s period"
        )
    return stamp, naive


def _parse_count(text: str, line: int) -> float:
    value = text.strip()
    try:
        count = float(value)
    except ValueError:
        raise ProfileError(
            f"line {line}: count {value!r} is not a number; the second column is the "
            "Invocations Sum of that minute"
        ) from None
    if not math.isfinite(count) or count < 0:
        raise ProfileError(f"line {line}: count {value} is negative or not finite")
    if count > MAX_REQUESTS_PER_MINUTE:
        raise ProfileError(
            f"line {line}: count {value} is more requests in a minute than one Lambda function "
            f"can serve at {MAX_CONCURRENCY:,} concurrent executions, ten times the default "
            "account quota and the most the planner models (10 requests per second per "
            f"execution environment: {MAX_REQUESTS_PER_MINUTE:,} a minute); check that the "
            "column is the minute's Invocations Sum, not a running total or another metric"
        )
    return count


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the traffic profile {path}: {exc}") from exc
    rows = [(n, row) for n, row in enumerate(csv.reader(text.splitlines()), start=1) if row]
    if not rows:
        raise ProfileError(
            f"{path} is empty; export the Invocations metric (see capacity/README.md) "
            "or use --profile NAME"
        )
    return rows


def read_csv(path: Path) -> Traffic:
    """Per-minute counts from a CSV with the header ``timestamp,count``."""
    rows = _lines(path)
    line, first = rows[0]
    # The header says which column is which: a file of other columns (another metric,
    # another tool's export) must not be read as if it were this one.
    if tuple(cell.strip().lower() for cell in first) != HEADER:
        found = "a data row, no header" if _looks_like_time(first[0]) else "the header"
        raise ProfileError(
            f"{path} line {line}: expected the header {','.join(HEADER)} (the minute's "
            f"timestamp, then its Invocations Sum), found {found} {','.join(first)!r}; "
            "export the metric as capacity/README.md shows, or rename the columns if they "
            "hold exactly that"
        )
    rows = rows[1:]
    if not rows:
        raise ProfileError(f"{path} has a header but no data rows")
    seen: dict[dt.datetime, tuple[float, int]] = {}
    duplicates: list[int] = []
    conflicts: list[int] = []
    naive_lines: list[int] = []
    for line, row in rows:
        if len(row) < 2:
            raise ProfileError(f"line {line}: expected timestamp,count, got {','.join(row)!r}")
        stamp, naive = _parse_time(row[0], line)
        count = _parse_count(row[1], line)
        if naive:
            naive_lines.append(line)
        if stamp in seen:
            previous, _ = seen[stamp]
            (duplicates if previous == count else conflicts).append(line)
            seen[stamp] = (max(previous, count), line)
            continue
        seen[stamp] = (count, line)
    start, end = min(seen), max(seen)
    minutes = int((end - start) / MINUTE) + 1
    counts = np.zeros(minutes)
    for stamp, (count, _line) in seen.items():
        counts[int((stamp - start) / MINUTE)] = count
    traffic = Traffic(start, counts, f"csv {path}")
    gaps = minutes - len(seen)
    if gaps:
        traffic.notes.append(
            f"{gaps} minute(s) without a row were taken as 0 requests (CloudWatch omits "
            "minutes without invocations)"
        )
    if duplicates:
        traffic.notes.append(
            f"{len(duplicates)} repeated timestamp(s) with equal counts kept once "
            f"(lines {_quote(duplicates)})"
        )
    if conflicts:
        traffic.notes.append(
            f"{len(conflicts)} repeated timestamp(s) with different counts: the larger "
            f"count kept (lines {_quote(conflicts)})"
        )
    if naive_lines:
        traffic.notes.append(
            f"{len(naive_lines)} timestamp(s) without a time zone read as UTC "
            f"(lines {_quote(naive_lines)})"
        )
    if minutes < MINUTES_PER_WEEK:
        raise ProfileError(
            f"{path} covers {minutes / 60:.1f} hours from {start:%Y-%m-%dT%H:%MZ}; a plan "
            "needs at least one week of per-minute counts (CloudWatch keeps 60 s data for "
            "15 days: export 7-14 days)"
        )
    return traffic


def _looks_like_time(text: str) -> bool:
    return text.strip()[:4].isdigit()


def _quote(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_SHOWN])
    return shown + (", ..." if len(lines) > _SHOWN else "")


# --- named synthetic profiles ------------------------------------------------------------

# Requests per second by (weekday 0 = Monday, hour) in the environment's local time.
SYNTHETIC = ("flat", "business-hours", "spiky", "nightly-batch")


def _rate(name: str, weekday: int, hour: int, minute_of_week: int) -> float:
    if name == "flat":
        return 100.0
    if name == "business-hours":
        return 200.0 if weekday < 5 and 8 <= hour < 18 else 2.0
    if name == "spiky":
        # Low volume with two short bursts a week (Tuesday and Thursday, 14:00-14:05).
        burst = any(
            start <= minute_of_week < start + 5 for start in (2 * 1440 + 840, 4 * 1440 + 840)
        )
        return 50.0 if burst else 1.0
    if name == "nightly-batch":
        return 300.0 if hour == 2 else 0.05
    raise ProfileError(f"unknown profile {name!r}: use one of {', '.join(SYNTHETIC)}")


def synthetic(name: str, timezone: ZoneInfo, seed: int = 0) -> Traffic:
    """One week from Monday 00:00 local time of profile ``name``, Poisson counts per minute."""
    if name not in SYNTHETIC:
        raise ProfileError(f"unknown profile {name!r}: use one of {', '.join(SYNTHETIC)}")
    monday = dt.datetime(2026, 11, 2, tzinfo=timezone)  # a Monday outside any DST change
    rates = np.array(
        [
            _rate(name, (monday + i * MINUTE).weekday(), (monday + i * MINUTE).hour, i)
            for i in range(MINUTES_PER_WEEK)
        ]
    )
    counts = np.random.default_rng(seed).poisson(rates * 60).astype(float)
    start = monday.astimezone(dt.UTC)
    return Traffic(start, counts, f"synthetic profile {name} (seed {seed})")
