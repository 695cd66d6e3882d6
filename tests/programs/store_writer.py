"""One of many concurrent writers for the store stress test: logs epochs as fast as it can.

Usage: store_writer.py STORE SWEEP_ID SECONDS  ->  prints how many epochs it wrote.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from yolosweep.store import Store, new_id


def main() -> int:
    store, sweep_id, seconds = Store(sys.argv[1], create=False), sys.argv[2], float(sys.argv[3])
    run_id = new_id()
    with store.transaction():
        store.add_run(sweep_id, run_id, {"writer": run_id})
    written, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        written += 1
        store.log_epoch(
            run_id, written, {"epoch": written, "metrics/mAP50(B)": written / 1e6}, {"epochs_done": written}
        )
    store.end_run(run_id, "finished", summary={"epochs_done": written})
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
