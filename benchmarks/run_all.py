"""Run every benchmark in this folder, one after the other, and print their Markdown output:
first the comparison suite (every family against its peer; it also writes benchmarks/figures/suite.md),
then the time-to-quality comparison (benchmarks/figures/quality-curves.png), then each family's own benchmark.

    python benchmarks/run_all.py > benchmarks/latest.md
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = [
    "bench_suite.py",
    "bench_quality.py",
    "bench_checkpoint.py",
    "bench_threads.py",
    "bench_startup.py",
    "bench_lab.py",
    "bench_tour_eta.py",
    "bench_vae.py",
    "bench_kde.py",
    "bench_autoencoders.py",
    "bench_gan.py",
    "bench_ddpm.py",
    "bench_explicit.py",
    "bench_rbm_sampling.py",
    "bench_pixelcnn_paradox.py",
    "bench_geostat.py",
    "bench_memory.py",  # writes 11 GB of images under /tmp/genzoo-folders (kept for the next run)
]  # bench_suite.py runs bench_peak.py's measurement


def main() -> int:
    here = Path(__file__).parent
    status = 0
    for script in SCRIPTS:
        print(f"\n<!-- python benchmarks/{script} -->", flush=True)
        status |= subprocess.call([sys.executable, str(here / script)])
    return status


if __name__ == "__main__":
    sys.exit(main())
