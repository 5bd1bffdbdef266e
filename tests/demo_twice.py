"""Run ``make demo``'s entry point twice in one fresh process, on a stack that is already running.

``python tests/demo_twice.py STATE_DIR WORK_DIR``: the demo finds the stack by STATE_DIR (where
the test session's stack recorded itself) and keeps its Airflow home and log under WORK_DIR. Only
those paths change; everything else, Airflow's configuration on first import included, is what
``make demo`` does, which an in-process test (Airflow configured by the test session) cannot show.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from localaws import demo

state_dir, work_dir = Path(sys.argv[1]), Path(sys.argv[2])
demo.STATE_DIR = state_dir
demo.AIRFLOW_HOME = work_dir / "airflow"
demo.AIRFLOW_LOG = work_dir / "demo-airflow.log"
os.environ["KEEP"] = "1"  # the stack is the test session's: leave it running

first = demo.main()
print("=== second demo ===", flush=True)
sys.exit(first or demo.main())
