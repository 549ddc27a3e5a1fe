"""Pre-trade risk checks: pure decisions on an order request before it is sent.

Theory of operation
-------------------
Every check is a function of the request, the configured limits and what the caller
passes in (reference price, known ClOrdIDs, ``now``); nothing here reads a clock or
a market-data feed. A check returns a :class:`RiskDecision`: ALLOW, REFUSE with a
:class:`RefusalReason` and a sentence naming the numbers involved, or, from a
throttle, QUEUE with the time ``until`` which the message must wait.

:class:`PreTradeRisk` runs the checks in a fixed order, cheapest and most
fundamental first, and stops at the first refusal: kill switch, duplicate ClOrdID,
allowed symbols, maximum order quantity, maximum notional, price collar, and last
the throttle (last because an allowed or queued message takes a slot in it). Cancels
pass the kill switch and every limit (reducing risk must always be possible) and
only meet the throttle, if ``throttle_cancels`` is set.

Two throttles, both "at most ``limit`` messages per ``interval`` seconds":

* :class:`SlidingWindowThrottle` - exact: no window of ``interval`` seconds ever
  holds more than ``limit`` messages. The ``limit``-th last send time decides when
  the next may go.
* :class:`TokenBucket` - allows bursts of ``burst`` messages, refilled at
  ``limit / interval`` per second (exact rational arithmetic, so a full bucket is
  never 0.9999 tokens short).

Either may queue instead of refusing: when the next free slot is at most
``max_delay`` seconds away and fewer than ``max_queue`` messages are already
waiting, the decision is QUEUE(until); the slot is reserved, so the caller must send
at ``until`` (or forgo the slot). ``max_delay=None`` never queues.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from collections.abc import Container
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from .model import CancelRequest, MassCancelRequest, NewOrderRequest, OrdType, ReplaceRequest

__all__ = [
    "Action",
    "PreTradeRisk",
    "RefusalReason",
    "RiskDecision",
    "RiskLimits",
    "SlidingWindowThrottle",
    "Throttle",
    "TokenBucket",
    "check_duplicate",
    "check_kill_switch",
    "check_notional",
    "check_order_qty",
    "check_price_collar",
    "check_symbol",
]


class Action(enum.Enum):
    """What to do with a message."""

    ALLOW = "allow"
    QUEUE = "queue"
    REFUSE = "refuse"


class RefusalReason(enum.Enum):
    """Why a message was refused (or queued, for THROTTLED)."""

    KILL_SWITCH = "kill switch engaged"
    DUPLICATE_CL_ORD_ID = "duplicate ClOrdID"
    SYMBOL_NOT_ALLOWED = "symbol not allowed"
    MAX_ORDER_QTY = "order quantity above the maximum"
    MAX_NOTIONAL = "order notional above the maximum"
    PRICE_COLLAR = "price outside the collar around the reference price"
    NO_REFERENCE_PRICE = "no reference price to check against"
    THROTTLED = "message rate above the throttle"


@dataclasses.dataclass(frozen=True, slots=True)
class RiskDecision:
    """ALLOW, QUEUE (send at ``until``) or REFUSE (``reason``, ``text``)."""

    action: Action
    reason: RefusalReason | None = None
    text: str = ""
    until: float | None = None

    @property
    def allowed(self) -> bool:
        """True only for ALLOW."""
        return self.action is Action.ALLOW

    @property
    def refused(self) -> bool:
        """True for REFUSE."""
        return self.action is Action.REFUSE

    def __str__(self) -> str:
        if self.action is Action.ALLOW:
            return "allow"
        if self.action is Action.QUEUE:
            return f"queue until {self.until}: {self.text}"
        return f"refuse ({self.reason.name if self.reason else '?'}): {self.text}"


ALLOW = RiskDecision(Action.ALLOW)
_ALLOW = Action.ALLOW


def _refuse(reason: RefusalReason, text: str) -> RiskDecision:
    return RiskDecision(Action.REFUSE, reason, text)


# -- pure checks --------------------------------------------------------------------------------


def check_kill_switch(engaged: bool, why: str = "") -> RiskDecision:
    """REFUSE while the kill switch is engaged."""
    if engaged:
        return _refuse(
            RefusalReason.KILL_SWITCH, "kill switch engaged" + (f": {why}" if why else "")
        )
    return ALLOW


def check_duplicate(cl_ord_id: str | None, known: Container[str]) -> RiskDecision:
    """REFUSE a ClOrdID already used (FIX requires ClOrdIDs unique per trading day)."""
    if cl_ord_id is not None and cl_ord_id in known:
        return _refuse(RefusalReason.DUPLICATE_CL_ORD_ID, f"ClOrdID {cl_ord_id!r} already used")
    return ALLOW


def check_symbol(symbol: str, allowed: Container[str] | None) -> RiskDecision:
    """REFUSE a symbol outside ``allowed`` (None allows every symbol)."""
    if allowed is not None and symbol not in allowed:
        return _refuse(RefusalReason.SYMBOL_NOT_ALLOWED, f"symbol {symbol!r} is not allowed")
    return ALLOW


def check_order_qty(quantity: Decimal, max_qty: Decimal | None) -> RiskDecision:
    """REFUSE a quantity above ``max_qty`` (None: no limit)."""
    if max_qty is not None and quantity > max_qty:
        return _refuse(
            RefusalReason.MAX_ORDER_QTY, f"order quantity {quantity} exceeds the maximum {max_qty}"
        )
    return ALLOW


def check_notional(
    quantity: Decimal, price: Decimal | None, max_notional: Decimal | None
) -> RiskDecision:
    """REFUSE when |quantity x price| exceeds ``max_notional``; with no price, REFUSE too."""
    if max_notional is None:
        return ALLOW
    if price is None:
        return _refuse(
            RefusalReason.NO_REFERENCE_PRICE,
            "no limit or reference price to compute the order's notional",
        )
    notional = abs(quantity * price)
    if notional > max_notional:
        return _refuse(
            RefusalReason.MAX_NOTIONAL,
            f"notional {notional} ({quantity} x {price}) exceeds the maximum {max_notional}",
        )
    return ALLOW


def check_price_collar(
    price: Decimal, reference: Decimal | None, percent: Decimal | None
) -> RiskDecision:
    """REFUSE a price more than ``percent`` % away from ``reference``, either side.

    No reference (or a reference that is not positive) refuses: the collar fails
    closed. ``percent`` None disables the check.
    """
    if percent is None:
        return ALLOW
    if reference is None or reference <= 0:
        return _refuse(
            RefusalReason.NO_REFERENCE_PRICE,
            f"price collar needs a positive reference price, have {reference}",
        )
    band = reference * percent / 100
    if abs(price - reference) > band:
        return _refuse(
            RefusalReason.PRICE_COLLAR,
            f"price {price} is outside {reference} +/- {percent}% "
            f"[{reference - band}, {reference + band}]",
        )
    return ALLOW


# -- throttles ----------------------------------------------------------------------------------


class Throttle(Protocol):
    """What :class:`PreTradeRisk` needs from a throttle."""

    def acquire(self, now: float) -> RiskDecision:
        """ALLOW (slot taken now), QUEUE (slot reserved at ``until``) or REFUSE."""
        ...

    def next_slot(self, now: float) -> float:
        """The earliest time a message could go, without taking the slot."""
        ...


def _check_rate(limit: int, interval: float, max_delay: float | None, max_queue: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"throttle limit must be a positive int, not {limit!r}")
    if not interval > 0:
        raise ValueError(f"throttle interval must be positive seconds, not {interval!r}")
    if max_delay is not None and max_delay < 0:
        raise ValueError(f"max_delay must be >= 0 or None, not {max_delay!r}")
    if max_queue < 0:
        raise ValueError(f"max_queue must be >= 0, not {max_queue!r}")


class SlidingWindowThrottle:
    """At most ``limit`` messages in any ``interval`` seconds, exactly."""

    def __init__(
        self,
        limit: int,
        interval: float,
        *,
        max_delay: float | None = None,
        max_queue: int = 1000,
    ) -> None:
        _check_rate(limit, interval, max_delay, max_queue)
        self.limit = limit
        self.interval = interval
        self.max_delay = max_delay
        self.max_queue = max_queue
        self._times: collections.deque[float] = collections.deque(maxlen=limit)

    def next_slot(self, now: float) -> float:
        """The earliest time >= ``now`` the next message may go (after any queued ones)."""
        times = self._times
        if not times:
            return now
        t = max(now, times[-1])
        if len(times) == self.limit:
            t = max(t, times[0] + self.interval)
        return t

    def queued(self, now: float) -> int:
        """Messages holding a reserved slot later than ``now``."""
        return sum(1 for t in self._times if t > now)

    def acquire(self, now: float) -> RiskDecision:
        """Take a slot for one message at ``now`` (see :class:`Throttle`)."""
        t = self.next_slot(now)
        if t <= now:
            self._times.append(now)
            return ALLOW
        text = f"{self.limit} messages per {self.interval}s reached; next slot at {t}"
        if (
            self.max_delay is not None
            and t - now <= self.max_delay
            and self.queued(now) < self.max_queue
        ):
            self._times.append(t)
            return RiskDecision(Action.QUEUE, RefusalReason.THROTTLED, text, until=t)
        return _refuse(RefusalReason.THROTTLED, text)


class TokenBucket:
    """``burst`` messages at once, refilled at ``limit`` per ``interval`` seconds."""

    def __init__(
        self,
        limit: int,
        interval: float,
        *,
        burst: int | None = None,
        max_delay: float | None = None,
        max_queue: int = 1000,
    ) -> None:
        _check_rate(limit, interval, max_delay, max_queue)
        self.limit = limit
        self.interval = interval
        self.burst = limit if burst is None else burst
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst!r}")
        self.max_delay = max_delay
        self.max_queue = max_queue
        self._rate = Fraction(limit) / Fraction(interval)  # tokens per second
        self._tokens = Fraction(self.burst)
        self._last: Fraction | None = None
        self._reserved: collections.deque[float] = collections.deque()

    def _refill(self, now: float) -> Fraction:
        t = Fraction(now)
        if self._last is None or t > self._last:
            if self._last is not None:
                self._tokens = min(
                    Fraction(self.burst), self._tokens + (t - self._last) * self._rate
                )
            self._last = t
        return self._last

    def tokens(self, now: float) -> Fraction:
        """Tokens available at ``now`` (negative while slots are reserved ahead)."""
        self._refill(now)
        return self._tokens

    def next_slot(self, now: float) -> float:
        """The earliest time >= ``now`` one token is available."""
        t = self._refill(now)
        if self._tokens >= 1:
            return float(t)
        return float(t + (1 - self._tokens) / self._rate)

    def acquire(self, now: float) -> RiskDecision:
        """Take a token for one message at ``now`` (see :class:`Throttle`)."""
        t = self._refill(now)
        while self._reserved and self._reserved[0] <= now:
            self._reserved.popleft()
        if self._tokens >= 1:
            self._tokens -= 1
            return ALLOW
        until = float(t + (1 - self._tokens) / self._rate)
        text = f"{self.limit} messages per {self.interval}s (burst {self.burst}); next at {until}"
        if (
            self.max_delay is not None
            and until - now <= self.max_delay
            and len(self._reserved) < self.max_queue
        ):
            self._tokens -= 1
            self._reserved.append(until)
            return RiskDecision(Action.QUEUE, RefusalReason.THROTTLED, text, until=until)
        return _refuse(RefusalReason.THROTTLED, text)


# -- the combined check ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits for :class:`PreTradeRisk`; None disables a check.

    ``price_collar_pct`` is a percentage (``Decimal("5")`` = within 5% of the
    reference price). ``allowed_symbols`` None allows every symbol.
    """

    max_order_qty: Decimal | None = None
    max_notional: Decimal | None = None
    price_collar_pct: Decimal | None = None
    allowed_symbols: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("max_order_qty", "max_notional", "price_collar_pct"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or not value > 0):
                raise ValueError(f"{name} must be a positive Decimal or None, not {value!r}")
        if self.allowed_symbols is not None:
            object.__setattr__(self, "allowed_symbols", frozenset(self.allowed_symbols))


class PreTradeRisk:
    """The checks above, in order, for new orders, replaces and cancels."""

    def __init__(
        self,
        limits: RiskLimits | None = None,
        *,
        throttle: Throttle | None = None,
        throttle_cancels: bool = True,
    ) -> None:
        self.limits = limits if limits is not None else RiskLimits()
        self.throttle = throttle
        self.throttle_cancels = throttle_cancels
        self.kill_switch = False
        self.kill_reason = ""

    def engage_kill_switch(self, reason: str = "") -> None:
        """Refuse every new order and replace from now on (cancels still pass)."""
        self.kill_switch = True
        self.kill_reason = reason

    def release_kill_switch(self) -> None:
        """Accept orders again."""
        self.kill_switch = False
        self.kill_reason = ""

    def _terms(
        self,
        symbol: str,
        quantity: Decimal,
        ord_type: OrdType,
        price: Decimal | None,
        stop_px: Decimal | None,
        reference_price: Decimal | None,
    ) -> RiskDecision:
        lim = self.limits
        for decision in (
            check_symbol(symbol, lim.allowed_symbols),
            check_order_qty(quantity, lim.max_order_qty),
        ):
            if not decision.allowed:
                return decision
        if lim.max_notional is not None:
            valuation = price if price is not None else stop_px
            if valuation is None:
                valuation = reference_price
            decision = check_notional(quantity, valuation, lim.max_notional)
            if not decision.allowed:
                return decision
        if price is not None and ord_type is not OrdType.MARKET:
            decision = check_price_collar(price, reference_price, lim.price_collar_pct)
            if not decision.allowed:
                return decision
        return ALLOW

    def _throttled(self, now: float) -> RiskDecision:
        return ALLOW if self.throttle is None else self.throttle.acquire(now)

    def check_new(
        self,
        request: NewOrderRequest,
        now: float,
        *,
        reference_price: Decimal | None = None,
        known_cl_ord_ids: Container[str] = (),
    ) -> RiskDecision:
        """Decide on a NewOrderSingle. ``known_cl_ord_ids`` is e.g. an OrderRegistry."""
        return self._check_order(request, now, reference_price, known_cl_ord_ids)

    def check_replace(
        self,
        request: ReplaceRequest,
        now: float,
        *,
        reference_price: Decimal | None = None,
        known_cl_ord_ids: Container[str] = (),
    ) -> RiskDecision:
        """Decide on an OrderCancelReplaceRequest (its new terms meet every limit)."""
        return self._check_order(request, now, reference_price, known_cl_ord_ids)

    def _check_order(
        self,
        request: NewOrderRequest | ReplaceRequest,
        now: float,
        reference_price: Decimal | None,
        known_cl_ord_ids: Container[str],
    ) -> RiskDecision:
        """Kill switch, duplicate ClOrdID, the order's terms, then the throttle."""
        if self.kill_switch:
            return check_kill_switch(True, self.kill_reason)
        cl_ord_id = request.cl_ord_id
        if cl_ord_id is not None and cl_ord_id in known_cl_ord_ids:
            return check_duplicate(cl_ord_id, known_cl_ord_ids)
        lim = self.limits
        if (
            lim.allowed_symbols is not None
            or lim.max_order_qty is not None
            or lim.max_notional is not None
            or lim.price_collar_pct is not None
        ):
            decision = self._terms(
                request.symbol,
                request.quantity,
                request.ord_type,
                request.price,
                request.stop_px,
                reference_price,
            )
            if decision.action is not _ALLOW:
                return decision
        throttle = self.throttle
        return ALLOW if throttle is None else throttle.acquire(now)

    def check_cancel(
        self,
        request: CancelRequest | MassCancelRequest,
        now: float,
        *,
        known_cl_ord_ids: Container[str] = (),
    ) -> RiskDecision:
        """Decide on a cancel: never stopped by the kill switch or the limits."""
        decision = check_duplicate(request.cl_ord_id, known_cl_ord_ids)
        if not decision.allowed:
            return decision
        return self._throttled(now) if self.throttle_cancels else ALLOW
