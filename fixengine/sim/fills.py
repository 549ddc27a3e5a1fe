"""Fill models: how the simulated venue fills a client that has no counterparty.

Theory of operation
-------------------
A fill model is a policy, not an executor: :class:`~fixengine.sim.book.MatchingEngine`
asks it two questions about an order of a session that has a model and carries out
the answers as trades against the house (the venue itself is the counterparty):

* :meth:`FillModel.rejects` - once, when the order arrives: reject it (and why)?
* :meth:`FillModel.next_fill` - when (absolute time) and how much to fill next,
  asked on entry, after each house fill and after a replace. A time at or before
  ``now`` means "immediately", on entry as part of the same call.

Real counterparties come first: the engine matches an order against the book before
the house fills what is left. The caller advances time (``engine.advance(now)``);
nothing here reads a clock, and the reject decision is drawn from a
:class:`random.Random` seeded per model, so a run is reproducible.

Models:

* :class:`ImmediateFill` - the whole order at once.
* :class:`PartialFill` - ``fraction`` of the order quantity every ``interval``
  seconds (rounded down to ``lot``, at least one lot; the last fill takes the rest).
* :class:`NeverFill` - accepted and left working.
* :class:`RejectFraction` - rejects ``fraction`` of the orders, hands the rest to
  another model (immediate by default).

:func:`fill_model` builds one from a name and settings (the simulator's
``SimFill``/``SimPartialFraction``/``SimPartialInterval``/``SimRejectFraction``/
``SimSeed``); :func:`parse_fill_model` from one line of text such as
``partial:25%/500ms`` or ``reject:10%@42:immediate``.
"""

from __future__ import annotations

import random
import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .book import OrderState

__all__ = [
    "FILL_MODELS",
    "FillModel",
    "ImmediateFill",
    "NeverFill",
    "PartialFill",
    "RejectFraction",
    "fill_model",
    "parse_fill_model",
]

#: Names :func:`fill_model` knows.
FILL_MODELS: tuple[str, ...] = ("immediate", "partial", "reject", "never")


class FillModel(Protocol):
    """What the matching engine asks about an order of a lone client."""

    def rejects(self, order: OrderState) -> str | None:
        """Text of the rejection for an arriving order, or None to accept it."""
        ...

    def next_fill(self, order: OrderState, after: float) -> tuple[float, Decimal] | None:
        """(time, quantity) of the next house fill of a live order, or None for none.

        ``after`` is when the order arrived, was replaced or was last filled. The
        engine caps the quantity at the order's LeavesQty.
        """
        ...


class ImmediateFill:
    """Fill the whole order as soon as it arrives (and whatever a replace adds)."""

    name = "immediate"

    def rejects(self, order: OrderState) -> str | None:
        """Never rejects."""
        return None

    def next_fill(self, order: OrderState, after: float) -> tuple[float, Decimal] | None:
        """Everything that is left, at once."""
        return (after, order.leaves_qty) if order.leaves_qty > 0 else None

    def __repr__(self) -> str:
        return "ImmediateFill()"


class NeverFill:
    """Accept orders and leave them working (until canceled or expired)."""

    name = "never"

    def rejects(self, order: OrderState) -> str | None:
        """Never rejects."""
        return None

    def next_fill(self, order: OrderState, after: float) -> tuple[float, Decimal] | None:
        """No fills."""
        return None

    def __repr__(self) -> str:
        return "NeverFill()"


class PartialFill:
    """Fill ``fraction`` of the order quantity every ``interval`` seconds.

    Each fill is ``OrderQty x fraction`` rounded down to a multiple of ``lot``
    (at least one lot) and at most the LeavesQty, so an order of 100 with 0.25 fills
    25, 25, 25, 25 at ``t+interval``, ``t+2*interval``... The first fill comes one
    interval after the order arrives (or is replaced).
    """

    name = "partial"

    def __init__(self, fraction: Decimal, interval: float, *, lot: Decimal = Decimal(1)) -> None:
        if not isinstance(fraction, Decimal) or not Decimal(0) < fraction <= Decimal(1):
            raise ValueError(f"partial fill fraction must be a Decimal in (0, 1], not {fraction!r}")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise ValueError(f"partial fill interval must be positive seconds, not {interval!r}")
        if not isinstance(lot, Decimal) or lot <= 0:
            raise ValueError(f"lot must be a positive Decimal, not {lot!r}")
        self.fraction = fraction
        self.interval = float(interval)
        self.lot = lot

    def chunk(self, order_qty: Decimal) -> Decimal:
        """Quantity of one fill of an order of ``order_qty``."""
        lots = (order_qty * self.fraction / self.lot).to_integral_value(rounding=ROUND_DOWN)
        return max(lots, Decimal(1)) * self.lot

    def rejects(self, order: OrderState) -> str | None:
        """Never rejects."""
        return None

    def next_fill(self, order: OrderState, after: float) -> tuple[float, Decimal] | None:
        """One chunk, one interval later."""
        if order.leaves_qty <= 0:
            return None
        return (after + self.interval, min(self.chunk(order.order_qty), order.leaves_qty))

    def __repr__(self) -> str:
        return f"PartialFill({self.fraction}, {self.interval})"


class RejectFraction:
    """Reject a share of arriving orders; the others go to ``then``.

    The decision comes from ``random.Random(seed)``, one draw per arriving order, so
    the same order flow gets the same rejections.
    """

    name = "reject"

    def __init__(self, fraction: float, *, seed: int = 0, then: FillModel | None = None) -> None:
        if isinstance(fraction, bool) or not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"reject fraction must be from 0 to 1, not {fraction!r}")
        self.fraction = float(fraction)
        self.seed = seed
        self.then: FillModel = then if then is not None else ImmediateFill()
        self._rng = random.Random(seed)

    def rejects(self, order: OrderState) -> str | None:
        """Rejects with probability ``fraction`` (seeded), else asks ``then``."""
        if self._rng.random() < self.fraction:
            return "rejected by the simulator's reject model"
        return self.then.rejects(order)

    def next_fill(self, order: OrderState, after: float) -> tuple[float, Decimal] | None:
        """As ``then``."""
        return self.then.next_fill(order, after)

    def __repr__(self) -> str:
        return f"RejectFraction({self.fraction}, seed={self.seed}, then={self.then!r})"


def fill_model(
    name: str,
    *,
    partial_fraction: Decimal = Decimal("0.25"),
    partial_interval: float = 1.0,
    reject_fraction: float = 0.1,
    seed: int = 0,
    lot: Decimal = Decimal(1),
) -> FillModel:
    """The model called ``name`` (one of :data:`FILL_MODELS`) with these settings.

    ``reject`` rejects ``reject_fraction`` of the orders and fills the others at once.
    """
    if name == "immediate":
        return ImmediateFill()
    if name == "never":
        return NeverFill()
    if name == "partial":
        return PartialFill(partial_fraction, partial_interval, lot=lot)
    if name == "reject":
        return RejectFraction(reject_fraction, seed=seed)
    raise ValueError(f"unknown fill model {name!r} (known: {', '.join(FILL_MODELS)})")


_PERCENT = r"(\d+(?:\.\d+)?)%"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


def _percent(text: str, spec: str) -> Decimal:
    m = re.fullmatch(_PERCENT, text)
    if m is None:
        raise ValueError(f"fill model {spec!r}: {text!r} is not a percentage like 25%")
    try:
        return Decimal(m.group(1)) / 100
    except InvalidOperation:  # pragma: no cover - the pattern guards it
        raise ValueError(f"fill model {spec!r}: bad percentage {text!r}") from None


def _duration(text: str, spec: str) -> float:
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"fill model {spec!r}: {text!r} is not a duration like 500ms or 2s")
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "ms" else value


def parse_fill_model(spec: str) -> FillModel:
    """A model from text: ``immediate``, ``never``, ``partial:25%/500ms``,
    ``reject:10%`` or ``reject:10%@SEED:MODEL`` (reject, then fill as MODEL).
    """
    text = spec.strip()
    if text in ("immediate", "never"):
        return fill_model(text)
    head, _, rest = text.partition(":")
    if head == "partial":
        pct, slash, every = rest.partition("/")
        if not slash:
            raise ValueError(f"fill model {spec!r}: expected partial:PERCENT/DURATION")
        return PartialFill(_percent(pct, spec), _duration(every, spec))
    if head == "reject":
        share, _, then = rest.partition(":")
        pct, at, seed_text = share.partition("@")
        if at and not seed_text.lstrip("-").isdigit():
            raise ValueError(f"fill model {spec!r}: seed {seed_text!r} is not an integer")
        return RejectFraction(
            float(_percent(pct, spec)),
            seed=int(seed_text) if at else 0,
            then=parse_fill_model(then) if then else None,
        )
    raise ValueError(
        f"unknown fill model {spec!r}: expected immediate, never, partial:25%/500ms "
        "or reject:10%[@SEED][:MODEL]"
    )
