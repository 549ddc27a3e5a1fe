"""A client process for the restart test: ``python test_router_crash_child.py PORT DIR MODE N``.

``submit`` sends N orders, prints ``READY [ClOrdIDs]`` once all are acknowledged and
then just applies reports until it is killed. ``recover`` starts from the journal in
DIR, waits until the N orders are filled and reconciled, prints ``RESULT {...}``
(each order's ExecIDs, CumQty and status, and the number of anomalies), logs out and
exits. Not a test module: it only runs as a script.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_router_fakes import Client

from fixengine.orders import NewOrderRequest, Side


async def main(port: int, store: Path, mode: str, count: int) -> None:
    client = Client(port, store_dir=store)
    router = client.router
    updates = router.updates()
    await client.__aenter__()
    if mode == "submit":
        orders = [
            await router.submit(NewOrderRequest("ACME", Side.BUY, Decimal(25), price=Decimal(11)))
            for _ in range(count)
        ]
        for order in orders:
            await order.acknowledged(5)
        print("READY " + json.dumps([o.cl_ord_id for o in orders]), flush=True)
        await asyncio.Event().wait()  # until SIGKILL
    orders = router.orders()
    await asyncio.gather(*(o.filled(8) for o in orders))
    await router.wait_reconciled(8)
    await asyncio.sleep(0.2)
    result: dict[str, object] = {
        o.cl_ord_id: {
            "exec_ids": [f.exec_id for f in o.fills],
            "cum_qty": str(o.cum_qty),
            "status": o.state.name,
        }
        for o in orders
    }
    result["_anomalies"] = len(router.anomalies) + sum(len(o.anomalies) for o in orders)
    seen = []
    while len(updates):
        seen.append(await updates.get(1))
    recovered = [u for u in seen if u.kind.name == "RECOVERED"]
    result["_recovered_cum_qty"] = str(sum((u.cum_qty for u in recovered), Decimal(0)))
    result["_resent_fills"] = sum(1 for u in seen if u.poss_dup and u.fill is not None)
    result["_duplicates"] = sum(1 for u in seen if u.duplicate)
    print("RESULT " + json.dumps(result), flush=True)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
