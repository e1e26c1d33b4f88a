"""A large artifact goes in and out through the CLI with bounded memory.

The suite moves 1 GiB, four times the memory bound, which only streaming can pass;
`benchmarks/bench_scale.py` runs this same test with `FLOW_ARTIFACTS_LARGE_GIB=4`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import blake3

GIB = 1 << 30
SIZE = int(os.environ.get("FLOW_ARTIFACTS_LARGE_GIB", "1")) * GIB
MEMORY_BOUND = 256 << 20  # peak RSS of the whole process, interpreter and libraries included

# VmHWM belongs to the process image: unlike ru_maxrss, it does not inherit the peak of the
# forking pytest process across exec.
PEAK_RSS = """
def peak_rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

MEASURE = PEAK_RSS + textwrap.dedent("""
    import runpy, sys
    sys.argv = ["flow-artifacts", *sys.argv[1:]]
    try:
        runpy.run_module("flow_artifacts", run_name="__main__")
    finally:
        print("maxrss:", peak_rss(), file=sys.stderr)
""")


def run_measured(*args: str, cwd) -> tuple[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr
    peak = int(result.stderr.rsplit("maxrss:", 1)[1])
    return result.stdout, peak


def test_large_file_streams_in_and_out_with_bounded_memory(tmp_path):
    source = tmp_path / "big.bin"
    with open(source, "wb") as f:  # sparse: costs no disk, reads back as zeros
        f.truncate(SIZE)
    upload = PEAK_RSS + textwrap.dedent(f"""
        import sys
        import flow_artifacts as fa
        art = fa.upload_file({str(source)!r}, name="big", project="large")
        print(art.uri, art.size, art.checksum)
        print("maxrss:", peak_rss(), file=sys.stderr)
    """)
    result = subprocess.run(
        [sys.executable, "-c", upload], cwd=tmp_path, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stderr
    uri, size, checksum = result.stdout.split()
    assert int(size) == SIZE
    assert int(result.stderr.rsplit("maxrss:", 1)[1]) < MEMORY_BOUND
    expected = blake3.blake3()
    zeros = bytes(64 << 20)
    for _ in range(SIZE // len(zeros)):
        expected.update(zeros)
    assert checksum == f"blake3:{expected.hexdigest()}"
    source.unlink()

    target = tmp_path / "copy.bin"
    out, peak = run_measured("get", uri, "-o", str(target), cwd=tmp_path)
    assert out.strip() == str(target)
    assert target.stat().st_size == SIZE
    print(
        f"peak RSS: upload {int(result.stderr.rsplit('maxrss:', 1)[1]) >> 20} MiB, "
        f"get {peak >> 20} MiB"
    )
    assert peak < MEMORY_BOUND
    shown, _ = run_measured("show", uri, "--json", cwd=tmp_path)
    assert json.loads(shown)["size"] == SIZE
