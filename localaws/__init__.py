"""The local AWS stack: moto for S3, CloudWatch, Logs and SNS, plus our own local CloudFront.

Like Airflow, the stack imports the project's ``qdn`` package from ``plugins/`` and the track API
handler from ``site/api``; they are put on ``sys.path`` here so ``python -m localaws`` works from a
plain checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (_ROOT / "plugins", _ROOT / "site" / "api"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
