"""200 predictions through a 4-process fork pool whose parent was warmed: ``python bench/fork.py [--official PYTHON]``.

The parent makes one prediction first (a keep-alive connection sits in its pool), then maps
``run`` over 200 prompts on a ``ProcessPoolExecutor(4)`` with the ``fork`` start method, as a
Linux user's code does by default on Python 3.9-3.13. Every answer is checked against its own
prompt. The floor is the same work with a fresh ``http.client`` connection per call (no pool to
share). The fake server runs in its own process. ``--official`` names a Python with
``replicate==1.0.7`` installed: it is measured the same way, in that interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = 200

WORKLOAD = textwrap.dedent(
    """
    import json, multiprocessing, sys, time, warnings
    from concurrent.futures import ProcessPoolExecutor
    warnings.simplefilter("ignore")
    library = sys.argv[1]
    if library == "floor":
        import http.client, urllib.parse
        url = urllib.parse.urlsplit(sys.argv[2]); token = sys.argv[3]
        def run(prompt):
            conn = http.client.HTTPConnection(url.hostname, url.port)
            body = json.dumps({"input": {"prompt": prompt}})
            conn.request("POST", "/v1/models/replicate-min/echo/predictions", body,
                         {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                          "Prefer": "wait"})
            answer = json.loads(conn.getresponse().read()); conn.close()
            return answer["output"]
    else:
        replicate = __import__(library)
        def run(prompt):
            try:
                return replicate.run("replicate-min/echo", input={"prompt": prompt})
            except Exception as exc:
                return "error: " + type(exc).__name__
    run("warm")
    prompts = [f"prompt-{i}" for i in range(int(sys.argv[4]))]
    started = time.perf_counter()
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as pool:
        outputs = list(pool.map(run, prompts))
    elapsed = time.perf_counter() - started
    wrong = sum(1 for got, want in zip(outputs, prompts) if got != want)
    print(json.dumps({"seconds": elapsed, "wrong": wrong}))
    """
)


def measure(python: str, library: str, base_url: str, token: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REPLICATE_API_TOKEN": token,
        "REPLICATE_BASE_URL": base_url,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    out = subprocess.run(
        [python, "-c", WORKLOAD, library, base_url, token, str(ROWS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        return {"seconds": float("nan"), "wrong": ROWS, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--official", help="a Python with replicate==1.0.7 installed")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_server.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    base_url, token = server.stdout.readline().split()
    try:
        floor = measure(sys.executable, "floor", base_url, token)
        ours = measure(sys.executable, "replicate_min", base_url, token)
        print(f"# {ROWS} predictions, 4-process fork pool, warmed parent; fake in its own process")
        print("| client | time | ratio to floor | wrong answers |")
        print("| --- | --- | --- | --- |")
        print(f"| bare http.client, a connection per call (floor) | {floor['seconds']:.2f} s | 1x | {floor['wrong']} |")
        print(
            f"| replicate_min | {ours['seconds']:.2f} s | {ours['seconds'] / floor['seconds']:.2f}x | {ours['wrong']} |"
        )
        if args.official:
            official = measure(args.official, "replicate", base_url, token)
            ratio = official["seconds"] / floor["seconds"]
            print(f"| replicate 1.0.7 | {official['seconds']:.2f} s | {ratio:.2f}x | {official['wrong']} |")
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait()


if __name__ == "__main__":
    main()
