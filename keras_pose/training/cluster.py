"""The cluster that ``TF_CONFIG`` names, and joining it without a silent hang.

``MultiWorkerMirroredStrategy()`` blocks inside TensorFlow's C++ until every
worker has started, holding the GIL: a worker started alone prints nothing
more and takes neither Ctrl-C nor SIGTERM (TF's coordination service traps
SIGTERM), for as long as the others are missing. :func:`wait_for_workers`
meets the other workers first, in Python: it says whom it waits for, and a
Ctrl-C or a kill stops it. Once joined, :func:`check_workers_agree` stops
every worker whose command differs from the others' (settings, or data
that gives another step count), before any step; a worker lost during
those checks is named in one line (:func:`gather_before_training`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import socket
import threading
import time
from typing import Iterator, Optional

from keras_pose import log as logging
from keras_pose.training.callbacks import TrainingError

# The jobs MultiWorkerMirroredStrategy trains with.
_JOBS = ("chief", "worker")
# How a task waiting for the others answers on its port (then its cluster's digest).
_TOKEN = b"keras_pose cluster "
# Seconds a worker waits before leaving on an error agreed in a collective.
_SETTLE_S = 2.0


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The training tasks of ``TF_CONFIG``: ``addresses`` ("job index" ->
    "host:port", chief first) and this process's ``task``."""

    addresses: dict
    task: str


def read_cluster(raw: Optional[str] = None) -> Optional[Cluster]:
    """``TF_CONFIG`` (or ``raw``) as a :class:`Cluster`; None without one.

    Raises:
      TrainingError: TF_CONFIG that is not JSON, or whose task is not one of
        its cluster's chief or worker tasks.
    """
    raw = os.environ.get("TF_CONFIG") if raw is None else raw
    if not raw:
        return None
    try:
        value = json.loads(raw)
        cluster, task = value.get("cluster", {}), value.get("task", {})
        jobs = {job: cluster.get(job, []) for job in _JOBS}
        me = f"{task.get('type')} {task.get('index')}"
    except (json.JSONDecodeError, AttributeError, TypeError) as e:
        raise TrainingError(f"TF_CONFIG is not a JSON object with 'cluster' and 'task': "
                            f"{e}") from e
    addresses = _addresses(jobs)
    if len(addresses) > 1 and me not in addresses:
        raise TrainingError(f"TF_CONFIG: the task {task} is not one of its cluster's "
                            f"{', '.join(addresses)}")
    return Cluster(addresses, me)


def _addresses(jobs: dict) -> dict:
    """{"job index": "host:port"} of TF_CONFIG's jobs, checked (a job given
    as one string, or an address without its port, was an IndexError)."""
    addresses = {}
    for job, tasks in jobs.items():
        if not isinstance(tasks, list):
            raise TrainingError(f"TF_CONFIG: cluster '{job}' must be a list of "
                                f"\"host:port\" addresses, got {tasks!r}")
        for index, address in enumerate(tasks):
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise TrainingError(f"TF_CONFIG: {job} {index}'s address {address!r} is not "
                                    "host:port (e.g. \"10.0.0.1:12345\")")
            if str(address) in addresses.values():  # It met itself, then hung in TF.
                raise TrainingError(f"TF_CONFIG: {job} {index}'s address {address!r} is also "
                                    "another task's: give every task its own host:port")
            addresses[f"{job} {index}"] = str(address)
    return addresses


def cluster_workers() -> int:
    """Number of workers (chief included) that ``TF_CONFIG`` names."""
    cluster = read_cluster()
    return len(cluster.addresses) if cluster else 1


def _token(cluster: Cluster) -> bytes:
    """What a waiting task answers on its port: its cluster's digest (tasks
    given different clusters met, and one hung in TF, deaf to Ctrl-C)."""
    digest = hashlib.sha256(json.dumps(sorted(cluster.addresses.items())).encode())
    return _TOKEN + digest.hexdigest()[:16].encode() + b"\n"


def _listing(cluster: Cluster) -> str:
    return ", ".join(f"{task} {address}" for task, address in cluster.addresses.items())


def _answer(listener: socket.socket, token: bytes, done: threading.Event,
            strangers: list) -> None:
    """Answers every task that connects with ``token`` until ``done``; the
    token a task sends first, when it is another cluster's, goes into
    ``strangers`` (only the side that connected was told, and the other
    waited on)."""
    listener.settimeout(0.2)
    while not done.is_set():
        try:
            connection, address = listener.accept()
        except OSError:  # A timeout, or the listener closed.
            continue
        with connection, contextlib.suppress(OSError):
            connection.sendall(token)
            connection.settimeout(1.0)
            theirs = connection.recv(len(token))
            if theirs.startswith(_TOKEN) and theirs != token:
                host = address[0].removeprefix("::ffff:")  # An IPv4 peer on a dual socket.
                strangers.append(f"{host}:{address[1]}")


def _accepts(cluster: Cluster, task: str) -> bool:
    """Whether ``task`` listens on its port. A task still waiting answers its
    cluster's token, which must be ours; one past waiting listens with TF's
    server, which speaks HTTP/2 (gRPC). Anything else is another program on
    that port: TF would wait for it for ever, deaf to Ctrl-C.

    Raises:
      TrainingError: another cluster's task, or another program, there.
    """
    host, port = cluster.addresses[task].rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0) as peer:
            reply = _first_bytes(peer)
            if reply.startswith(_TOKEN):
                peer.sendall(_token(cluster))  # Told too, if the clusters differ.
            elif not _is_http2(reply):
                # A server that waits for the client's preface first.
                peer.sendall(_HTTP2_PREFACE)
                reply = reply or _first_bytes(peer)
    except (OSError, ValueError):
        return False
    if reply.startswith(_TOKEN) and reply != _token(cluster):
        raise TrainingError(
            f"TF_CONFIG: {task} at {cluster.addresses[task]} was given another cluster than "
            f"{cluster.task}'s ({_listing(cluster)}): give every worker the same 'cluster' in "
            "TF_CONFIG (only 'task' differs)")
    if not (reply.startswith(_TOKEN) or _is_http2(reply)):
        raise TrainingError(
            f"TF_CONFIG: {task}'s address {cluster.addresses[task]} is held by another program "
            "(it answers neither as a keras_pose worker nor as TensorFlow's server, and "
            f"TensorFlow would wait for it for ever): stop it, or give {task} another port in "
            "every worker's TF_CONFIG")
    return True


# HTTP/2's client preface and an empty SETTINGS frame (RFC 9113, 3.4).
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _first_bytes(peer: socket.socket) -> bytes:
    """What ``peer`` sends within a second (b"" if nothing)."""
    try:
        return peer.recv(len(_TOKEN) + 32)
    except socket.timeout:
        return b""


def _is_http2(reply: bytes) -> bool:
    """An HTTP/2 server's first frame: SETTINGS (type 4) on stream 0."""
    return len(reply) >= 9 and reply[3] == 4 and reply[5:9] == bytes(4)


def wait_for_workers(cluster: Cluster, *, timeout: Optional[float] = None,
                     log_every: float = 30.0) -> None:
    """Returns once every other task of ``cluster`` listens on its port.

    Meanwhile this task listens on its own port, so that the others find it
    (a task past this point listens there with TF's server), and logs whom it
    waits for every ``log_every`` seconds. Interruptible (plain Python).

    Raises:
      TrainingError: this task's port is taken by another program, or
        ``timeout`` seconds passed (naming the missing tasks).
    """
    port = int(cluster.addresses[cluster.task].rsplit(":", 1)[1])
    # IPv4 and IPv6 both (as TF's server listens), SO_REUSEADDR set.
    dual = socket.has_dualstack_ipv6()
    try:
        listener = socket.create_server(("", port), backlog=64, dualstack_ipv6=dual,
                                        family=socket.AF_INET6 if dual else socket.AF_INET)
    except OSError as e:
        raise TrainingError(f"TF_CONFIG: {cluster.task}'s port {port} is taken by another "
                            f"program ({e.strerror}); free it or give this task another port "
                            "in every worker's TF_CONFIG") from None
    done, strangers = threading.Event(), []
    answering = threading.Thread(target=_answer, args=(listener, _token(cluster), done,
                                                       strangers), daemon=True)
    answering.start()
    try:
        _meet(cluster, timeout, log_every, strangers)
    finally:
        done.set()
        answering.join()
        listener.close()


def _meet(cluster: Cluster, timeout: Optional[float], log_every: float,
          strangers: list) -> None:
    start = time.monotonic()
    next_log = start
    missing = [t for t in cluster.addresses if t != cluster.task]
    while True:
        missing = [t for t in missing if not _accepts(cluster, t)]
        if strangers:
            raise TrainingError(
                f"TF_CONFIG: a worker connecting from {strangers[0]} was given another cluster "
                f"than {cluster.task}'s ({_listing(cluster)}): give every worker the same "
                "'cluster' in TF_CONFIG (only 'task' differs)")
        if not missing:
            return
        waited = time.monotonic() - start
        names = ", ".join(f"{t} at {cluster.addresses[t]}" for t in missing)
        if timeout is not None and waited > timeout:
            raise TrainingError(f"TF_CONFIG: {names} did not start in {timeout:.0f} s")
        if time.monotonic() >= next_log:
            logging.info("TF_CONFIG: %s (%s) waits for %s to start (the same command with its "
                         "TF_CONFIG there); %.0f s so far, Ctrl-C stops", cluster.task,
                         cluster.addresses[cluster.task], names, waited)
            next_log += log_every
        time.sleep(0.5)


def lost_worker_error(message: str, chief: bool, last: Optional[str],
                      before_training: bool = False) -> TrainingError:
    """Another worker stopped (killed, crashed, its machine gone) and TF's
    collectives aborted with ``message``: which worker, and how to resume,
    instead of TF's traceback. ``last``: the chief's last complete
    checkpoint (None on other workers, or before the first);
    ``before_training``: it stopped while the run was being set up (a
    refusal of its own, e.g. damaged weights there)."""
    cluster = read_cluster()
    me = cluster.task if cluster else None  # TF's message may name this task too.
    tasks = sorted({f"{job} {task}" for job, task in re.findall(
        r"/job:(\w+)/replica:\d+/task:(\d+)", message)} - {me})
    who = ", ".join(tasks) or "another worker"
    if before_training:
        return TrainingError(f"lost {who} of the cluster before training ({_why_lost(message)};"
                             " its output says why); nothing was trained: fix that, then start "
                             "every worker again with the same command")
    where = (f"the last complete checkpoint is {last}" if last else
             "the chief's --model_dir holds the last complete checkpoint" if not chief
             else "no checkpoint was written yet")
    return TrainingError(f"lost {who} of the cluster ({_why_lost(message)}); {where}: start "
                         "every worker again with the same command to resume")


def _why_lost(message: str) -> str:
    if "stopped sending heartbeats" in message:
        return "its heartbeats stopped"
    if re.search(r"Connection reset|Socket closed|Connection refused", message):
        return "its connection closed"
    lines = [line.strip() for line in message.splitlines()
             if line.strip() and not line.startswith("Graph execution error")]
    return "TensorFlow: " + (lines[0][:200] if lines else "UnavailableError")


# Settings that may differ between the machines of one run: where each finds
# the data and the weights it starts from, and how many CPU threads each
# one's input pipeline uses.
MACHINE_SETTINGS = ("data.root", "data.num_parallel_calls", "train.init_checkpoint")


def _fingerprints(settings: dict) -> tuple[list[str], list[int]]:
    """(names, int64 hashes) of the settings, in a fixed order."""
    names = sorted(settings)
    hashes = [int.from_bytes(hashlib.sha256(json.dumps(settings[n], sort_keys=True)
                                            .encode()).digest()[:8], "little", signed=True)
              for n in names]
    return names, hashes


def task_names(count: int) -> list[str]:
    """The tasks of TF_CONFIG in worker order, the chief first (the order of
    a collective's rows)."""
    cluster = read_cluster()
    names = list(cluster.addresses) if cluster else []
    return names if len(names) == count else [f"worker {i}" for i in range(count)]


def settle_after_collective() -> None:
    """Waits before a worker raises an error that every worker learnt in a
    collective: its peers fetch their share of the result from it after it
    has its own (TF's RecvBuf), and a worker leaving at once aborted theirs
    (a TF traceback instead of the agreed line, seen in CI)."""
    time.sleep(_SETTLE_S)


@contextlib.contextmanager
def lost_before_training() -> Iterator[None]:
    """The block, a collective before training (the workers' checks, the
    model's variables that the chief's values initialise), stops with one
    line naming the worker that left instead of TF's traceback (was a
    100-line UnavailableError from the first collective after a worker was
    killed during its set-up). TF says a peer is gone with UnavailableError
    (its heartbeats stopped, its connection closed: what SIGTERM and kill -9
    of a worker at each collective before training gave, TF 2.21), or with
    AbortedError (its coordination service's word for a task that started
    again; not seen here).

    Raises:
      TrainingError: :func:`lost_worker_error` (before_training) in a cluster
        of several workers; TF's error itself in a run of one process.
    """
    import tensorflow as tf
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError) as e:
        if cluster_workers() < 2:
            raise
        raise lost_worker_error(str(e.message), False, None, before_training=True) from e


def gather_before_training(strategy, row: list[int]):
    """Every worker's ``row`` (ints of one length), the rows in worker order
    (the chief first): an int64 array [workers, len(row)]. Every collective
    before training is this one (a worker gone: :func:`lost_before_training`)."""
    import tensorflow as tf
    value = tf.constant([row], tf.int64)
    with lost_before_training():
        return strategy.gather(strategy.run(lambda: value), axis=0).numpy()


def stop_together(strategy, refusal: Optional[BaseException]) -> None:
    """A collective in which every worker says whether it refused the run
    (``refusal``: its own user error, or None).

    Raises:
      ``refusal`` on the worker that refused (also when the others have
      stopped already); TrainingError naming the workers that refused, on
      the others (or the worker lost, :func:`gather_before_training`).
    """
    import tensorflow as tf
    try:
        flags = gather_before_training(strategy, [int(refusal is not None)])[:, 0]
    except (tf.errors.OpError, TrainingError):  # A peer gone: TF's error, or its line.
        if refusal is not None:
            raise refusal from None
        raise
    if refusal is not None:
        settle_after_collective()
        raise refusal
    refused = [t for t, f in zip(task_names(len(flags)), flags) if f]
    if refused:
        settle_after_collective()
        raise TrainingError(f"{', '.join(refused)} refused the run before training (its output "
                            "says why); nothing was trained: fix that, then start every worker "
                            "again with the same command")


def end_together(strategy) -> None:
    """A collective after the chief's last work (final validation, export),
    whether it succeeded or not: the workers leave together. A peer already
    gone is no error here (its own output says why)."""
    import tensorflow as tf
    try:
        strategy.gather(strategy.run(lambda: tf.constant([1], tf.int64)), axis=0)
    except tf.errors.OpError as e:
        logging.warning("the other workers were gone at the end of the run (%s)",
                        str(e.message).splitlines()[0][:200])


def check_workers_agree(strategy, config_dict: dict, derived: dict) -> None:
    """Stops every worker, before any training, when the workers were not
    started with the same settings (another learning rate on one machine
    split the "mirrored" model in two in silence; another step count ended
    in a collective's traceback or in a false "lost worker").

    Args:
      strategy: the MultiWorkerMirroredStrategy (a collective gathers each
        worker's fingerprints).
      config_dict: this worker's config, ``{section: {field: value}}``.
      derived: other values that must agree ({"steps per epoch": 12, ...},
        which the data decides).

    Raises:
      TrainingError: naming the settings that differ, on every worker.
    """
    import numpy as np
    settings = {f"{section}.{field}": value for section, fields in config_dict.items()
                if isinstance(fields, dict) for field, value in fields.items()}
    settings = {k: v for k, v in settings.items() if k not in MACHINE_SETTINGS}
    settings.update(derived)
    names, hashes = _fingerprints(settings)
    gathered = gather_before_training(strategy, hashes)
    differ = [names[j] for j in np.flatnonzero((gathered != gathered[:1]).any(axis=0))]
    if differ:
        settle_after_collective()
        raise TrainingError(
            "the workers were started with different settings: "
            + ", ".join(f"{n} (here {settings[n]})" for n in differ[:8])
            + "; start every worker with the same command (only --data_dir, "
            "data.num_parallel_calls and the path of --init_checkpoint may differ between "
            "machines)")


def check_same_weights(strategy, network) -> None:
    """Stops every worker, before any training, when the workers start from
    different weights: each loads its own ``--init_checkpoint`` file, or
    its own copy of the epoch it resumes (two files, or an older copy,
    trained two models under one run, the logs alike).

    Raises:
      TrainingError: on every worker, naming those that differ from worker 0.
    """
    import numpy as np
    digest = hashlib.sha256()
    for weight in network.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    row = [int.from_bytes(digest.digest()[:8], "little", signed=True)]
    gathered = gather_before_training(strategy, row)[:, 0]
    differ = np.flatnonzero(gathered != gathered[0]).tolist()
    if differ:
        settle_after_collective()
        raise TrainingError(
            f"the workers start from different weights (worker(s) {differ} differ from worker "
            "0): give every worker the same --init_checkpoint file, or, resuming, the same "
            "epoch's checkpoint (worker 0 reads <model_dir>/checkpoints, worker i "
            "<model_dir>/worker_i/checkpoints); nothing was trained")
