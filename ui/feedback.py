"""Thumbs up/down appended to a JSONL log, flushed and fsynced on every write."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class FeedbackLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Raises OSError with the reason when the log cannot be written."""
        line = json.dumps({**record, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                          ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
