"""The resources meter reports the point's own process, not its parent's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A parent holding ~400 MB starts a fresh Python that reads the meter. Linux carries
# ru_maxrss across fork and exec, so a meter reading it reports the parent's peak.
PARENT = textwrap.dedent(
    """
    import subprocess, sys
    ballast = bytearray(400 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident
    child = "from seqbench.meters.resources import ResourcesMeter as M; m = M('cpu'); m.start('train'); print(m.stop('train')['peak_rss_bytes'])"
    print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
    """
)


def test_peak_rss_is_the_workers_own_not_its_parents():
    out = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, check=True)

    peak = int(out.stdout.split()[-1])
    assert 1024 * 1024 < peak < 200 * 1024 * 1024
