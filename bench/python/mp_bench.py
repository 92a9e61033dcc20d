"""Python's side of `cargo run --release -p bench`: multiprocessing's own numbers.

The Rust benchmark starts this script once per run and asks it for one sample at a time,
in turns with its own contenders, so that a busy moment of the machine hits Python's
samples and Rust's alike. Each request is one JSON line on stdin, and each answer one
line on stdout, nothing else:
    {"topic": "round_trip", "contender": "python send_bytes/recv_bytes", "count": 2000}
    {"seconds": 1.2e-05}
where "count" is how many operations the sample makes (round trips, messages, lock
operations, adds per process; 1 for a start and join or a map), "size" is a throughput
message's size, and "seconds" the time per operation ({"error": "..."} for a contender
this script does not know). {"rest": true} closes the pools kept warm between samples and
gives freed memory back; the end of stdin ends the script.
"""

import argparse
import ctypes
import ctypes.util
import functools
import gc
import json
import multiprocessing as mp
import os
import sys
import time

FORK = "python Process (fork)"
SPAWN = "python Process (spawn)"
FORKSERVER = "python Process (forkserver)"
APPLY = "python Pool.apply_async + get"
CONNECTION = "python send_bytes/recv_bytes"
POOL_MAP = "python Pool.map (warm pool)"
LOCK_WITH = "python Lock, with lock:"
LOCK_CALLS = "python Lock, acquire(); release()"
VALUE = "python Value, get_lock() += 1"
CONTENDERS = 2  # processes contending for one lock, as in Rust

PAYLOAD = 64
# glibc, for malloc_trim; None with another C library.
LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
LIBC = LIBC if hasattr(LIBC, "malloc_trim") else None
STOP = b""  # tells a child to leave: it holds a copy of the parent's end, so no EOF comes


def noop():
    pass


def square(x):
    return x * x


def identity(x):
    return x


def echo(conn):
    """Sends every message back until STOP."""
    while (message := conn.recv_bytes()) != STOP:
        conn.send_bytes(message)


def sender(conn, size):
    """Sends `count` messages of `size` bytes for every request `count`, until 0."""
    payload = b"\xa5" * size
    while count := int.from_bytes(conn.recv_bytes(), "big"):
        for _ in range(count):
            conn.send_bytes(payload)


def per_op(ops, batch):
    start = time.perf_counter()
    batch()
    return (time.perf_counter() - start) / ops


def start_join(method):
    """One start and join of a child that does nothing."""
    p = mp.get_context(method).Process(target=noop)
    seconds = per_op(1, lambda: (p.start(), p.join()))
    assert p.exitcode == 0
    return seconds


class Child:
    """A forked child serving `target` on the far end of a `Pipe()`."""

    def __init__(self, target, *args):
        self.conn, child_end = mp.Pipe()
        self.process = mp.get_context("fork").Process(target=target, args=(child_end, *args))
        self.process.start()
        child_end.close()

    def finish(self):
        self.conn.send_bytes(STOP)
        self.process.join()
        assert self.process.exitcode == 0
        self.conn.close()


def round_trips(child, count):
    payload = b"\xa5" * PAYLOAD
    for _ in range(count):
        child.conn.send_bytes(payload)
        assert len(child.conn.recv_bytes()) == PAYLOAD


def receive(child, count, size):
    child.conn.send_bytes(count.to_bytes(4, "big"))
    for _ in range(count):
        assert len(child.conn.recv_bytes()) == size


def with_new_child(child, exchange, warm_up, ops):
    """One sample with a new child, as in Rust: warm up, time `ops` operations, join."""
    exchange(child, warm_up)
    seconds = per_op(ops, lambda: exchange(child, ops))
    child.finish()
    return seconds


def lock_with(lock, count):
    """What a guard does in Rust: the lock taken around a block."""
    for _ in range(count):
        with lock:
            pass


def lock_calls(lock, count):
    for _ in range(count):
        lock.acquire()
        lock.release()


def add_locked(value, count):
    for _ in range(count):
        with value.get_lock():
            value.value += 1


def at_the_barrier(start, work, *args):
    start.wait()
    work(*args)


def in_processes(processes, work, *args):
    """Wall time of `work(*args)` in each of `processes` forked children that start
    together, from the start to the last join, as in Rust."""
    context = mp.get_context("fork")
    start = context.Barrier(processes + 1)
    children = [
        context.Process(target=at_the_barrier, args=(start, work, *args))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    start.wait()
    began = time.perf_counter()
    for child in children:
        child.join()
        assert child.exitcode == 0
    return time.perf_counter() - began


def counted_adds(processes, adds):
    """Seconds per add of `processes` children adding `adds` each to one locked Value."""
    value = mp.get_context("fork").Value("q", 0)
    seconds = in_processes(processes, add_locked, value, adds)
    assert value.value == processes * adds, "no add lost"
    return seconds / (processes * adds)


class UnknownContender(ValueError):
    """A request for a contender this script does not measure: answered with an error."""


class Warm:
    """The pools kept between samples, as Rust keeps its own: at most one at a time."""

    def __init__(self, processes, tasks):
        self.processes = processes
        self.items = list(range(tasks))
        self.name = None
        self.pool = None

    def get(self, name):
        """The pool `name` ("apply": one worker; "map": `processes`), started and warmed
        up (its workers have done the work once) on first use."""
        if self.name != name:
            self.rest()
            if name == "apply":
                self.pool = mp.get_context("fork").Pool(1)
                self.pool.apply(identity, (b"\xa5" * PAYLOAD,))
            else:
                self.pool = mp.get_context("fork").Pool(self.processes)
                self.pool.map(square, self.items)
            self.name = name
        return self.pool

    def rest(self):
        """Closes the pool, and gives the memory this process has freed back to the
        kernel, as the Rust side does between groups (bench/src/main.rs says why): after
        the throughput group, the 64 MiB messages this process received and freed made
        each of its forks about twice as slow."""
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
        self.name = self.pool = None
        gc.collect()
        if LIBC is not None:
            LIBC.malloc_trim(0)


def sample(request, warm):
    """Seconds per operation of one sample of `request`'s topic and contender."""
    topic, contender, count = request["topic"], request["contender"], request["count"]
    if contender in (FORK, FORKSERVER, SPAWN):
        method = {FORK: "fork", FORKSERVER: "forkserver", SPAWN: "spawn"}[contender]
        return start_join(method)
    if contender == CONNECTION and topic == "round_trip":
        return with_new_child(Child(echo), round_trips, 100, count)
    if contender == CONNECTION:
        size = request["size"]
        exchange = functools.partial(receive, size=size)
        # The warm-up message also waits for the child to make its payload.
        return with_new_child(Child(sender, size), exchange, 1, count)
    if contender == APPLY:
        pool = warm.get("apply")
        payload = b"\xa5" * PAYLOAD
        return per_op(count, lambda: [pool.apply_async(identity, (payload,)).get()
                                      for _ in range(count)])
    if contender == POOL_MAP:
        pool = warm.get("map")
        chunksize = 1 if topic == "pool_map_chunk1" else None
        return per_op(1, lambda: pool.map(square, warm.items, chunksize=chunksize))
    if contender in (LOCK_WITH, LOCK_CALLS):
        work = lock_with if contender == LOCK_WITH else lock_calls
        lock = mp.get_context("fork").Lock()
        if topic == "lock_contended":
            return in_processes(CONTENDERS, work, lock, count) / (CONTENDERS * count)
        return per_op(count, lambda: work(lock, count))
    if contender == VALUE:
        return counted_adds(warm.processes, count)
    raise UnknownContender(f"no such contender: {topic} / {contender}")


def on_the_bench_cores(measure):
    """Runs `measure()` on the cores the benchmark runs on now (one, for the round trip and
    throughput: bench/src/cores.rs says why), as do the children it starts meanwhile."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, os.sched_getaffinity(os.getppid()))
    try:
        return measure()
    finally:
        os.sched_setaffinity(0, allowed)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, required=True, help="workers of Pool.map")
    parser.add_argument("--tasks", type=int, required=True, help="items of Pool.map")
    args = parser.parse_args()
    warm = Warm(args.processes, args.tasks)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("rest"):
            warm.rest()
            answer = {}
        else:
            try:
                answer = {"seconds": on_the_bench_cores(lambda: sample(request, warm))}
            except UnknownContender as e:
                answer = {"error": str(e)}
        print(json.dumps(answer), flush=True)
    warm.rest()


if __name__ == "__main__":
    main()
