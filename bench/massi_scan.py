"""Benchmark: scanning 2,000 Massi archives with no change, then with 10 changes.

Prints wall time and the number of database queries of each scan (SQLite; pass a SQLAlchemy
URL as the first argument to measure PostgreSQL).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from include.massi.filedb import FillDB
from include.massi.scanner import scan

N_FILLS = 1000  # x 2 experiments = 2,000 archives


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "measurements"
        old = time.time() - 3600
        for exp in ("ATLAS", "CMS"):
            folder = root / exp / "lumi"
            folder.mkdir(parents=True)
            for fill in range(5000, 5000 + N_FILLS):
                path = folder / f"{fill}.tgz"
                path.write_bytes(os.urandom(64 * 1024))
                os.utime(path, (old, old))
        url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tmp}/fills.sqlite"
        db = FillDB(url)
        first = scan(db, root, 2017)
        print(f"initial scan of {2 * N_FILLS} new archives: {first.seconds:.2f} s, {first.queries} queries")
        db.mark_processed(db.pending())
        idle = scan(db, root, 2017)
        assert idle.unchanged == 2 * N_FILLS
        print(f"scan with no change: {idle.seconds:.3f} s, {idle.queries} queries")
        for fill in range(5000, 5010):
            path = root / "CMS" / "lumi" / f"{fill}.tgz"
            path.write_bytes(os.urandom(64 * 1024))
            os.utime(path, (old + 60, old + 60))
        ten = scan(db, root, 2017)
        assert len(ten.changed) == 10
        print(f"scan with 10 changes: {ten.seconds:.3f} s, {ten.queries} queries")
        db.close()


if __name__ == "__main__":
    main()
