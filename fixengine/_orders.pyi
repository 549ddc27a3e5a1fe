"""Types of the compiled quick path of the order state machine (built from ext/_orders.pyx)."""

from collections.abc import Callable, MutableMapping
from decimal import Decimal
from typing import Any

QUICK_TAGS: tuple[int, ...]

def set_slots(obj: object, descriptors: tuple[Any, ...], values: tuple[Any, ...]) -> None: ...

class QuickApply:
    _fill_slots: tuple[Any, ...] | None
    def __init__(
        self,
        events: dict[bytes, Any],
        statuses: dict[bytes, Any],
        sides: dict[bytes, Any],
        ord_types: dict[bytes, Any],
        time_in_forces: dict[bytes, Any],
        pending_new: Any,
        new: Any,
        partially_filled: Any,
        filled: Any,
        decimals: dict[bytes, Decimal],
        wire_decimal: Callable[[bytes], Decimal],
        fill: Callable[..., Any],
    ) -> None: ...
    def apply(
        self,
        by_cl_ord_id: MutableMapping[str, Any],
        by_order_id: MutableMapping[str, Any] | None,
        msg: Any,
        now: float,
    ) -> tuple[Any, Any, Any, Any, str | None, bool] | None: ...
