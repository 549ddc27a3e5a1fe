"""Orders: typed requests, FIX order messages, the order state machine, pre-trade risk,
and the async order router.

``model``, ``messages``, ``state`` and ``risk`` are sans-IO: no sockets, no asyncio,
no clock reads (time is passed in as UTC epoch seconds). ``router`` (and its
``journal``) binds them to a live session with asyncio; the simulator uses the same
messages seen from the acceptor's side.
"""

from __future__ import annotations

from .journal import OrderJournal
from .messages import (
    CancelReject,
    ExecutionReport,
    FixVersion,
    MessageError,
    build_request,
    cancel_reject_message,
    execution_report_message,
    parse_cancel_reject,
    parse_execution_report,
)
from .model import (
    CancelRequest,
    ExecType,
    InvalidOrder,
    MassCancelRequest,
    NewOrderRequest,
    Order,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    StatusRequest,
    TimeInForce,
)
from .risk import PreTradeRisk, RiskDecision, RiskLimits, SlidingWindowThrottle, TokenBucket
from .router import (
    MassCancelResult,
    OrderClosed,
    OrderError,
    OrderHandle,
    OrderRefused,
    OrderRejected,
    OrderRouter,
    RequestHandle,
    RequestRejected,
    RouterApplication,
    RouterClosed,
    RouterUpdate,
    UpdateKind,
)
from .state import Anomaly, AnomalyKind, ClOrdIdGenerator, OrderRegistry, OrderUpdate

__all__ = [
    "Anomaly",
    "AnomalyKind",
    "CancelReject",
    "CancelRequest",
    "ClOrdIdGenerator",
    "ExecType",
    "ExecutionReport",
    "FixVersion",
    "InvalidOrder",
    "MassCancelRequest",
    "MassCancelResult",
    "MessageError",
    "NewOrderRequest",
    "OrdStatus",
    "OrdType",
    "Order",
    "OrderClosed",
    "OrderError",
    "OrderHandle",
    "OrderJournal",
    "OrderRefused",
    "OrderRegistry",
    "OrderRejected",
    "OrderRouter",
    "OrderUpdate",
    "PreTradeRisk",
    "ReplaceRequest",
    "RequestHandle",
    "RequestRejected",
    "RiskDecision",
    "RiskLimits",
    "RouterApplication",
    "RouterClosed",
    "RouterUpdate",
    "Side",
    "SlidingWindowThrottle",
    "StatusRequest",
    "TimeInForce",
    "TokenBucket",
    "UpdateKind",
    "build_request",
    "cancel_reject_message",
    "execution_report_message",
    "parse_cancel_reject",
    "parse_execution_report",
]
