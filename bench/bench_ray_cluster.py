"""A real Ray cluster topology on one machine, beyond `ray.init()`: a head node and a second node joined on
loopback (`ray start --head`, then `ray start --address`), a small digits sweep sent to it with
`python -m models.transfer ... --ray ADDRESS` (the project shipped as Ray's working directory, as to a real
cluster), and the same sweep in one process with one torch thread (what a Ray task runs with). Prints the
cluster's nodes, both runners' seconds, and whether every run's test error and chosen rate are the same.

    python bench/bench_ray_cluster.py            (needs `pip install -r requirements-scale.txt`)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.transfer import load_runs  # noqa: E402
from tests.browser import free_port  # noqa: E402  (a free loopback port, as the browser tests find one)

SWEEP = ["--regimes", "probe,finetune", "--sizes", "1,2", "--seeds", "1", "--epochs", "1"]


def ray_cli(*args: str, env: dict) -> None:
    subprocess.run([shutil.which("ray") or "ray", *args], check=True, env=env, capture_output=True, timeout=300)


def sweep(out: Path, env: dict, *extra: str) -> float:
    t0 = time.perf_counter()
    command = [sys.executable, "-m", "models.transfer", *SWEEP, "--out", str(out), *extra]
    subprocess.run(command, check=True, env=env, cwd=ROOT, capture_output=True, timeout=1800)
    return time.perf_counter() - t0


def results(folder: Path) -> dict[str, tuple[float, float]]:
    return {r.key: (r.test_error, r.lr) for r in load_runs(folder)[1]}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ray-cluster-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        port = free_port()
        address = f"127.0.0.1:{port}"
        env = {
            **os.environ,
            "RAY_worker_niceness": "0",  # Ray nices its workers to 15 by default: beside anything busy they crawl
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "disabled",  # both nodes on this machine's loopback, nothing else reaches them
            "PYTHONPATH": str(ROOT),
        }
        alone_env = {**env, "OMP_NUM_THREADS": "1"}  # one torch thread, as each Ray task runs
        try:
            loopback = "--node-ip-address=127.0.0.1"
            ray_cli("start", "--head", f"--port={port}", loopback, "--num-cpus=1", "--include-dashboard=false", env=env)
            ray_cli("start", f"--address={address}", loopback, "--num-cpus=1", env=env)
            probe = f"import ray, json; ray.init(address={address!r}, log_to_driver=False); "
            probe += "print(json.dumps([n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']]))"
            nodes = json.loads(
                subprocess.run(
                    [sys.executable, "-c", probe], check=True, env=env, capture_output=True, text=True, timeout=120
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            print(f"cluster at {address}: {len(nodes)} live nodes {nodes}")
            on_cluster = sweep(work / "cluster", env, "--ray", address)
            in_process = sweep(work / "alone", alone_env)
        finally:
            subprocess.run([shutil.which("ray") or "ray", "stop", "--force"], env=env, capture_output=True, timeout=120)
        a, b = results(work / "alone"), results(work / "cluster")
        same = a.keys() == b.keys() and all(a[k] == b[k] for k in a)
        print(f"sweep of {len(a)} runs: in one process {in_process:.1f} s, on the two-node cluster {on_cluster:.1f} s")
        print(f"every run's test error and rate the same: {same}")
        for key in sorted(a):
            print(f"  {key}: alone {a[key]}, cluster {b.get(key)}")
        if "--json" in sys.argv:
            print(
                "JSON "
                + json.dumps(
                    {"nodes": len(nodes), "in-process s": in_process, "cluster s": on_cluster, "same results": same}
                )
            )
        if len(nodes) != 2 or not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
