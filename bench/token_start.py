#!/usr/bin/env python3
"""What a worker access token costs at start: register -> first worker
READY for actors with `token` false and true, side by side in one run, on
a private api + spawner with [workers] generate_clients on and a private
clientg (the stack's clientg has no secret). With a token the spawner asks
clientg for one (a request/reply on the broker, an RSA-2048 signature and
a Redis write) before it starts the worker. Median of N (default 10) each,
alternating. Prints figures; asserts nothing."""
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "functional"))

from private_stack import PrivateStack, rabbitmqctl, stop_process  # noqa: E402


def cold_start(stack, token):
    c = stack.client
    start = time.perf_counter()
    aid = stack.register("abaco/samples-echo", token=token)["id"]
    while True:
        ws = c.ok("GET", f"/actors/{aid}/workers")
        if any(w["status"] == "READY" for w in ws):
            break
        if time.perf_counter() - start > 30:
            raise SystemExit(f"actor {aid}: no READY worker after 30 s")
        time.sleep(0.005)
    took = (time.perf_counter() - start) * 1000
    c.ok("DELETE", f"/actors/{aid}")
    stack.actors.remove(aid)
    return took


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    queue = "clients_bench_" + uuid.uuid4().hex[:8]
    secret = uuid.uuid4().hex
    keydir = tempfile.mkdtemp(prefix="abaco-bench-clientg-")
    stack = PrivateStack("tokenbench", env=dict(workers_generate_clients="true",
                                                clientg_queue=queue, clientg_secret=secret,
                                                workers_autoscaling="false"),
                         web_access_control="none")
    clientg = stack.start("clientg", clientg_private_key_file=os.path.join(keydir, "key.pem"))
    try:
        cold_start(stack, True)  # clientg makes its key and warms up
        times = {False: [], True: []}
        for _ in range(n):
            for token in (False, True):
                times[token].append(cold_start(stack, token))
    finally:
        stack.close()
        stop_process(clientg)
        rabbitmqctl("delete_queue", queue)
        shutil.rmtree(keydir, ignore_errors=True)
    print(f"cold start with and without a worker access token, {n} actors each")
    for token in (False, True):
        t = times[token]
        print(f"  token={str(token).lower():5}  median {statistics.median(t):6.1f} ms   "
              f"min {min(t):6.1f} ms   max {max(t):6.1f} ms")
    print(f"  token cost (median difference) "
          f"{statistics.median(times[True]) - statistics.median(times[False]):.1f} ms")


if __name__ == "__main__":
    main()
