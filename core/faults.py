"""Pauses for the fault suite: inert unless `OMS_FAULT_PAUSE` is set.

`OMS_FAULT_PAUSE="import.write=5,printjob.progress=5"` makes `fault_pause`
sleep that many seconds at the named point, so a test can kill the worker or
its database connection there. With `OMS_FAULT_SIGNAL_DIR` set, the point
touches a file of its name in that directory first (the test waits for it),
and pauses only the first time, whichever process gets there.
"""

import os
import time
from pathlib import Path


def fault_pause(point: str) -> None:
    """Sleep at a named point when the fault suite asks for it."""
    spec = os.environ.get("OMS_FAULT_PAUSE")
    if not spec:
        return
    pauses = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    if point not in pauses:
        return
    signal_dir = os.environ.get("OMS_FAULT_SIGNAL_DIR")
    if signal_dir:
        try:
            (Path(signal_dir) / point).touch(exist_ok=False)
        except FileExistsError:
            return
    time.sleep(float(pauses[point]))
