"""Joining the cluster of TF_CONFIG: the workers meet in Python, saying whom
they wait for, instead of blocking silently inside TF."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from keras_pose.training.callbacks import TrainingError
from keras_pose.training.cluster import read_cluster, wait_for_workers
from tests.training.conftest import REPO, free_ports


def _config(ports, index, job="worker", chief=None, host="127.0.0.1"):
    cluster = {"worker": [f"{host}:{p}" for p in ports]}
    if chief:
        cluster["chief"] = [f"127.0.0.1:{chief}"]
    return json.dumps({"cluster": cluster, "task": {"type": job, "index": index}})


def test_tf_config_is_read_and_checked():
    assert read_cluster("") is None
    cluster = read_cluster(_config([1, 2], 1, chief=3))
    assert cluster.task == "worker 1"
    assert cluster.addresses == {"chief 0": "127.0.0.1:3", "worker 0": "127.0.0.1:1",
                                 "worker 1": "127.0.0.1:2"}
    with pytest.raises(TrainingError, match="TF_CONFIG is not a JSON object"):
        read_cluster("{cluster")
    with pytest.raises(TrainingError, match="task .* is not one of its cluster's chief 0, "
                                            "worker 0, worker 1"):
        read_cluster(_config([1, 2], 2, chief=3))
    # An address without its port, a job given as one string: were IndexErrors.
    bad = {"cluster": {"worker": ["127.0.0.1", "127.0.0.1:2"]}, "task": {"type": "worker",
                                                                          "index": 1}}
    with pytest.raises(TrainingError, match="worker 0's address '127.0.0.1' is not host:port"):
        read_cluster(json.dumps(bad))
    bad["cluster"]["worker"] = ["127.0.0.1:2", "127.0.0.1:2"]  # It met itself, then hung.
    with pytest.raises(TrainingError, match="worker 1's address '127.0.0.1:2' is also another"):
        read_cluster(json.dumps(bad))
    bad["cluster"]["worker"] = "127.0.0.1:2"
    with pytest.raises(TrainingError, match="cluster 'worker' must be a list"):
        read_cluster(json.dumps(bad))


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_workers_started_apart_meet_and_go_on(host):
    dual = socket.has_dualstack_ipv6()
    if host == "[::1]" and not dual:
        pytest.skip("no IPv6 on this machine")
    ports = free_ports(3)
    done, errors, servers = [], [], []

    def worker(index):
        try:
            wait_for_workers(read_cluster(_config(ports, index, host=host)), timeout=60)
            done.append(index)
            # TF's server takes the port next: those still waiting find it.
            servers.append(_http2_server(ports[index], dual))
        except Exception as e:  # noqa: BLE001 -- shown by the assert below
            errors.append(e)
    threads = []
    for index in range(3):
        threads.append(threading.Thread(target=worker, args=(index,)))
        threads[-1].start()
        time.sleep(1.0)  # The last one comes 2 s after the first.
    for thread in threads:
        thread.join(70)
    for server in servers:
        server.close()
    assert errors == [] and sorted(done) == [0, 1, 2]


def _http2_server(port, dual):
    """A stand-in for TF's server (test_tf_servers_answer_as_http2 shows it
    answers so): accepts, and sends an empty HTTP/2 SETTINGS frame."""
    server = socket.create_server(("", port), family=socket.AF_INET6 if dual
                                  else socket.AF_INET, dualstack_ipv6=dual)

    def answer():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # Closed.
                return
            with connection:
                connection.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                time.sleep(0.5)
    threading.Thread(target=answer, daemon=True).start()
    return server


def test_tf_servers_answer_as_http2():
    """A worker past waiting listens with TF's gRPC server: the waiting
    ones must take it for started (and nothing else: the next test)."""
    from keras_pose.training.cluster import _accepts
    ports = free_ports(2)
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, tensorflow as tf; tf.distribute.Server("
         f"{{'worker': ['localhost:{ports[0]}']}}, job_name='worker', task_index=0); "
         "print('up', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        assert _accepts(read_cluster(_config(ports, 1)), "worker 0")
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("banner", [b"", b"SSH-2.0-OpenSSH_9.6\r\n"])
def test_a_peer_port_held_by_another_program_is_named(banner):
    """A worker took the silent (or talking) program on a peer's port for
    that peer's TF server and went into TF, where it waited for ever, deaf
    to Ctrl-C."""
    ports = free_ports(2)
    with socket.create_server(("127.0.0.1", ports[1])) as other:
        def answer():
            with contextlib.suppress(OSError):
                connection, _ = other.accept()
                with connection:
                    connection.sendall(banner)
                    time.sleep(3)
        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(TrainingError, match=f"worker 1's address 127.0.0.1:{ports[1]} is "
                                                "held by another program"):
            wait_for_workers(read_cluster(_config(ports, 0)), timeout=20)


def test_workers_given_different_clusters_are_told_so():
    """A worker whose TF_CONFIG listed two workers met one listing three
    (still waiting for its third) and went into TF, where it hung, deaf to
    Ctrl-C and SIGTERM."""
    ports = free_ports(3)
    errors = {}

    def worker(index, count):
        try:
            wait_for_workers(read_cluster(_config(ports[:count], index)), timeout=20)
        except TrainingError as e:
            errors[index] = str(e)

    threads = [threading.Thread(target=worker, args=args) for args in ((0, 2), (1, 3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # (Told as it connected, or as the other connected, whichever came first.)
    assert "was given another cluster than worker 0's" in errors[0]
    assert "give every worker the same 'cluster' in TF_CONFIG" in errors[0]
    assert "was given another cluster than worker 1's" in errors[1]  # Not "did not start".
    # Another port for worker 1 in its own TF_CONFIG: worker 0 waited for a port
    # nobody used; only worker 1, which connected, was told.
    errors.clear()
    clusters = {0: [ports[0], ports[1]], 1: [ports[0], ports[2]]}

    def apart(index):
        try:
            wait_for_workers(read_cluster(_config(clusters[index], index)), timeout=20)
        except TrainingError as e:
            errors[index] = str(e)

    threads = [threading.Thread(target=apart, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert "a worker connecting from 127.0.0.1:" in errors[0], errors
    assert "was given another cluster than worker 0's" in errors[0]
    assert "was given another cluster than worker 1's" in errors[1]


def test_a_worker_that_never_comes_is_named():
    ports = free_ports(2)
    start = time.monotonic()
    with pytest.raises(TrainingError, match=f"worker 1 at 127.0.0.1:{ports[1]} did not start "
                                            "in 2 s"):
        wait_for_workers(read_cluster(_config(ports, 0)), timeout=2)
    assert time.monotonic() - start < 10


def test_a_port_taken_by_another_program_is_named():
    ports = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("", ports[0]))
        taken.listen(1)
        with pytest.raises(TrainingError, match=f"worker 0's port {ports[0]} is taken"):
            wait_for_workers(read_cluster(_config(ports, 0)), timeout=5)


@pytest.mark.slow  # train.py in a subprocess
def test_a_worker_started_alone_says_whom_it_waits_for_and_takes_ctrl_c(tmp_path):
    """It used to block inside TF silently, deaf to Ctrl-C and SIGTERM."""
    ports = free_ports(2)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=_config(ports, 0))
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--dataset", "synthetic", "--data_dir",
         str(tmp_path / "data"), "--model_dir", str(tmp_path / "run"), "--noprogress"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        expected = f"worker 0 (127.0.0.1:{ports[0]}) waits for worker 1 at 127.0.0.1:{ports[1]}"
        deadline = time.monotonic() + 120
        while not any(expected in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any(expected in line for line in lines), "".join(lines)[-3000:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)  # A process deaf to Ctrl-C fails here.
        reader.join(10)
    finally:
        proc.kill()
    output = "".join(lines)
    assert proc.returncode == 130 and "train.py: interrupted (Ctrl-C)" in output, output[-2000:]


def test_the_lost_worker_is_named_not_this_one(monkeypatch):
    """TF's error names this task's own devices too (seen in a CI run:
    "lost worker 0, worker 1" on worker 0)."""
    from keras_pose.training.cluster import lost_worker_error
    monkeypatch.setenv("TF_CONFIG", _config([1, 2], 0))
    message = ("Graph execution error:\n\nDetected at node CollectiveReduceV2 on "
               "/job:worker/replica:0/task:0/device:CPU:0\nCollective ops is aborted by: "
               "Error reported from /job:worker/task:1: The following tasks are unhealthy "
               "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have "
               "crashed.")
    assert str(lost_worker_error(message, chief=False, last=None)) == (
        "lost worker 1 of the cluster (its heartbeats stopped); the chief's --model_dir holds "
        "the last complete checkpoint: start every worker again with the same command to resume")
    assert str(lost_worker_error("Socket closed", chief=True, last="run/checkpoints/epoch_0003")
               ) == ("lost another worker of the cluster (its connection closed); the last "
                     "complete checkpoint is run/checkpoints/epoch_0003: start every worker "
                     "again with the same command to resume")


def _strategy(cluster: dict, task_type=None, task_id=None):
    """A MultiWorkerMirroredStrategy as is_chief sees it (its cluster), without
    joining that cluster."""
    import tensorflow as tf

    class _Strategy(tf.distribute.MultiWorkerMirroredStrategy):
        def __init__(self, resolver):  # super() would start TF's cluster servers.
            self._resolver = resolver

        @property
        def cluster_resolver(self):
            return self._resolver

    return _Strategy(tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id))


_WITH_CHIEF = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2", "127.0.0.1:3"]}
_WORKERS_ONLY = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize("cluster, task, chief", [
    (_WITH_CHIEF, ("chief", 0), True), (_WITH_CHIEF, ("worker", 0), False),
    (_WITH_CHIEF, ("worker", 1), False), (_WORKERS_ONLY, ("worker", 0), True),
    (_WORKERS_ONLY, ("worker", 1), False)])
def test_exactly_one_process_of_a_cluster_writes_the_shared_outputs(cluster, task, chief):
    """Exactly one process writes the shared outputs: the "chief" job's when
    there is one (not worker 0 too), else worker 0."""
    import tensorflow as tf
    from tensorflow.python.distribute import multi_worker_util

    from keras_pose.training.distribution import is_chief

    # The expected value is TF's own rule: the chief, else worker 0 when there is none.
    assert multi_worker_util.is_chief(tf.train.ClusterSpec(cluster), *task) == chief
    assert is_chief(_strategy(cluster, *task)) == chief
    # One process per task: exactly one of the cluster writes.
    writers = [(job, i) for job, addresses in cluster.items() for i in range(len(addresses))
               if is_chief(_strategy(cluster, job, i))]
    assert len(writers) == 1, writers


def test_a_multi_worker_strategy_of_one_process_writes_the_outputs():
    """A MultiWorkerMirroredStrategy without TF_CONFIG (no task type) is the
    only process: it must write the checkpoints and best/."""
    from keras_pose.training.distribution import is_chief

    assert is_chief(_strategy({}))
