"""Local multi-worker runs: `tfllm train --num_workers=N` starts N workers on 127.0.0.1.

Each worker is `tfllm train` with the same flags, runtime.distribution
multi_worker, and its own TF_CONFIG naming the same cluster of free local
ports. Their output is forwarded line by line behind a `[worker i]` prefix.
If one worker fails the others are stopped (they would wait forever on its
collectives) and the launch fails with that worker's exit code.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time


def free_ports(count):
    """`count` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def without_flag(args, name):
    """`args` less --NAME=VALUE or --NAME VALUE."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.lstrip("-") == name:
            skip = True
        elif not arg.lstrip("-").startswith(f"{name}="):
            kept.append(arg)
    return kept


def worker_environments(num_workers):
    """One environment per worker, each with a TF_CONFIG for the same local cluster."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(num_workers)]}
    return [dict(os.environ, TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        for index in range(num_workers)]


def _forward(stream, prefix, out):
    for line in stream:
        out.write(f"{prefix}{line}")
        out.flush()


def worker_command(train_args):
    """The command line every worker runs."""
    return [sys.executable, "-m", "tfllm.cli.main", "train", *train_args,
            "--config.runtime.distribution=multi_worker"]


def launch(train_args, num_workers, out=sys.stdout, poll_seconds=0.2):
    """Runs `tfllm train TRAIN_ARGS` as `num_workers` local workers; returns the exit code
    (0 when every worker exits 0)."""
    command = worker_command(train_args)
    workers, forwarders = [], []
    for index, env in enumerate(worker_environments(num_workers)):
        worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        forwarder = threading.Thread(target=_forward,
                                     args=(worker.stdout, f"[worker {index}] ", out))
        forwarder.start()
        workers.append(worker)
        forwarders.append(forwarder)
    failed = None
    while failed is None and any(w.poll() is None for w in workers):
        failed = next((i for i, w in enumerate(workers) if w.poll() not in (None, 0)), None)
        time.sleep(poll_seconds)
    failed = next((i for i, w in enumerate(workers) if w.poll() not in (None, 0)), failed)
    if failed is not None:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
    for worker in workers:
        worker.wait()
    for forwarder in forwarders:
        forwarder.join()
    if failed is None:
        return 0
    print(f"tfllm train: worker {failed} exited with code {workers[failed].returncode}; "
          "stopped the other workers", file=sys.stderr)
    code = workers[failed].returncode
    return code if code > 0 else 1  # killed by a signal
