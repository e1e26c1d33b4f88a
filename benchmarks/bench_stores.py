"""Throughput and memory of artifacts on S3 (moto's server), against raw s3fs on the same bytes.

    python benchmarks/bench_stores.py                             # 1 GiB, 2,000 x 4 KiB, 3 runs
    python benchmarks/bench_stores.py --size-mib 64 --count 200 --repeat 1   # quick

The moto server runs in this process; every measured operation runs in a fresh interpreter of its
own, so the server's work and memory never count against the client, and each peak RSS is that
operation's alone. Each operation runs `--repeat` times; the median time is reported. A child
first imports everything, opens the store and moves one tiny artifact: its RSS then is the
baseline, and the peak (`VmHWM`) minus that baseline is what the transfer cost. Raw s3fs is
measured as `put_file`/`get_file` with its defaults (10 concurrent 50 MiB parts), and `get_file`
also with `max_concurrency=1`, which is faster against moto, whose ranged reads copy the whole
object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20


def memory(field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (peak) of this process, in bytes. Unlike `ru_maxrss`, the peak
    starts afresh at exec, so it does not include the parent's memory at fork."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(task: str, args: dict[str, Any]) -> dict[str, Any]:
    """One measured operation, in this (fresh) interpreter."""
    import s3fs

    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    fs = s3fs.S3FileSystem(**args["options"])
    stack = fa.Stack(
        store=fa.ArtifactStore(f"s3://{args['bucket']}", progress=False, **args["options"]),
        catalog=Catalog(f"sqlite:///{args['catalog']}"),
    )
    warm = fa.materialize(b"warm-up", f"warm-{uuid.uuid4().hex}", "warm", "s", stack=stack)
    warm.download(Path(args["work"]) / f"warm-{uuid.uuid4().hex}")
    fs.get_file(warm.path, str(Path(args["work"]) / f"warm-{uuid.uuid4().hex}"))
    source, remote = args.get("source"), f"{args['bucket']}/raw/{uuid.uuid4().hex}"
    target = Path(args["work"]) / f"out-{uuid.uuid4().hex}"
    result: dict[str, Any] = {}
    baseline = memory("VmRSS")
    started = time.perf_counter()
    if task == "raw-put":
        fs.put_file(source, remote)
    elif task == "raw-get":
        fs.get_file(args["remote"], str(target), max_concurrency=args.get("concurrency"))
    elif task == "put-file":
        result["uri"] = fa.upload_file(source, "big-file", "bench", stack=stack).uri
    elif task == "put-bytes":
        data = Path(source).read_bytes()
        baseline, started = memory("VmRSS"), time.perf_counter()
        result["uri"] = fa.materialize(data, "big-bytes", uuid.uuid4().hex, "s", stack=stack).uri
    elif task == "download":
        fa.download(args["uri"], target, stack=stack)
    elif task == "as-local-file":
        with fa.get_artifact(args["uri"], stack=stack).as_local_file():
            pass
    elif task == "raw-put-many":
        for path in sorted(Path(source).iterdir()):
            fs.put_file(str(path), f"{args['bucket']}/many/{path.name}")
    elif task == "raw-get-many":
        for name in args["names"]:
            fs.get_file(f"{args['bucket']}/many/{name}", str(target))
    elif task == "put-many":
        run = uuid.uuid4().hex
        result["uris"] = [
            fa.upload_file(path, path.stem, "many", run_id=run, stack=stack).uri
            for path in sorted(Path(source).iterdir())
        ]
    elif task == "download-many":
        for uri in args["uris"]:
            fa.download(uri, target, stack=stack)
    else:
        raise ValueError(task)
    result["seconds"] = time.perf_counter() - started
    result["rss_delta"] = memory("VmHWM") - baseline
    if not args.get("keep"):  # the server keeps objects in memory: drop repeated big uploads
        if task == "raw-put":
            fs.rm(remote)
        elif task in ("put-file", "put-bytes"):
            fa.delete(result["uri"], stack=stack)
    return result


def run_child(task: str, **args: Any) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", task, json.dumps(args)],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the large artifact, MiB")
    parser.add_argument("--count", type=int, default=2000, help="how many small artifacts")
    parser.add_argument("--small-bytes", type=int, default=4096, help="size of each small one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(options.child, json.loads(options.args))))
        return

    sys.path.insert(0, str(REPO))
    from tests import servers

    rows: list[tuple[str, str, str, str]] = []
    with servers.s3_server() as s3, tempfile.TemporaryDirectory(prefix="bench-stores-") as work:
        common = {
            "bucket": s3.create_bucket(),
            "options": s3.storage_options,
            "catalog": f"{work}/catalog.db",
            "work": work,
        }
        size = options.size_mib * MIB
        big = Path(work) / "big.bin"
        with open(big, "wb") as f:
            for _ in range(options.size_mib):
                f.write(os.urandom(MIB))
        many = Path(work) / "many"
        many.mkdir()
        for i in range(options.count):
            (many / f"small-{i:05d}.bin").write_bytes(os.urandom(options.small_bytes))
        fs = __import__("s3fs").S3FileSystem(**s3.storage_options)
        fs.put_file(str(big), f"{common['bucket']}/source.bin", max_concurrency=1)
        label = f"{options.size_mib} MiB"

        def measure(
            name: str, task: str, total: int, items: int = 1, **args: Any
        ) -> dict[str, Any]:
            """Run `task` `--repeat` times; the median time, the largest memory peak."""
            runs = [
                run_child(task, **common, **args, keep=i == options.repeat - 1)
                for i in range(options.repeat)
            ]
            result = {**runs[-1], "seconds": statistics.median(r["seconds"] for r in runs)}
            result["rss_delta"] = max(r["rss_delta"] for r in runs)
            rate = f"{total / result['seconds'] / MIB:.2f} MiB/s"
            if items > 1:
                rate += f", {result['seconds'] / items * 1000:.1f} ms each"
            rss = f"{result['rss_delta'] / MIB:.0f} MiB"
            rows.append((name, f"{result['seconds']:.2f}", rate, rss))
            print(f"{name:48s} {rate:>28s}  peak RSS +{rss}", flush=True)
            return result

        big_remote = f"{common['bucket']}/source.bin"
        raw_put = measure(f"raw s3fs put_file, {label}", "raw-put", size, source=str(big))
        put_file = measure(f"fa.upload_file, {label}", "put-file", size, source=str(big))
        put_bytes = measure(f"fa.materialize(bytes), {label}", "put-bytes", size, source=str(big))
        raw_get = measure(f"raw s3fs get_file, {label}", "raw-get", size, remote=big_remote)
        raw_get1 = measure(
            f"raw s3fs get_file(max_concurrency=1), {label}", "raw-get", size,
            remote=big_remote, concurrency=1,
        )  # fmt: skip
        download = measure(f"fa.download, {label}", "download", size, uri=put_file["uri"])
        local = measure(
            f"Artifact.as_local_file, {label}", "as-local-file", size, uri=put_bytes["uri"]
        )
        n, total = options.count, options.count * options.small_bytes
        small = f"{n} x {options.small_bytes} B"
        raw_many = measure(
            f"raw s3fs put_file, {small}", "raw-put-many", total, n, source=str(many)
        )
        put_many = measure(f"fa.upload_file, {small}", "put-many", total, n, source=str(many))
        names = sorted(p.name for p in many.iterdir())
        raw_get_many = measure(f"raw s3fs get_file, {small}", "raw-get-many", total, n, names=names)
        get_many = measure(
            f"fa.download, {small}", "download-many", total, n, uris=put_many["uris"]
        )

    def ratio(ours: dict[str, Any], raw: dict[str, Any]) -> str:
        return f"{raw['seconds'] / ours['seconds']:.2f}"

    print("\n| operation | seconds (median) | throughput | peak RSS over baseline |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    print("\n| ratio to raw s3fs (target >= 0.95) | value |\n|---|---:|")
    print(f"| upload_file / put_file, {label} | {ratio(put_file, raw_put)} |")
    print(f"| materialize(bytes) / put_file, {label} | {ratio(put_bytes, raw_put)} |")
    print(f"| download / get_file, {label} | {ratio(download, raw_get)} |")
    print(f"| download / get_file(max_concurrency=1), {label} | {ratio(download, raw_get1)} |")
    print(f"| as_local_file / get_file(max_concurrency=1), {label} | {ratio(local, raw_get1)} |")
    print(f"| upload_file / put_file, {small} | {ratio(put_many, raw_many)} |")
    print(f"| download / get_file, {small} | {ratio(get_many, raw_get_many)} |")
    peak = local["rss_delta"] / MIB
    print(f"\nas_local_file peak RSS over baseline: {peak:.0f} MiB (target < 64)")


if __name__ == "__main__":
    main()
