"""Python's side of `cargo run --release -p bench`: multiprocessing's own numbers.

The Rust benchmark runs this script once per round and passes the sizes, so both sides
measure the same work. It prints one JSON line per sample, nothing else on stdout:
    {"topic": "round_trip", "contender": "python send_bytes/recv_bytes", "seconds": 1.2e-05}
where "seconds" is the time per operation. Contenders of a topic take turns, as in Rust.
"""

import argparse
import functools
import json
import multiprocessing as mp
import os
import statistics
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


def alternate(topic, round_, reps, contenders):
    """`reps` samples of each (name, sample) in turns, a different one first each turn."""
    n = len(contenders)
    for rep in range(reps):
        first = (round_ * reps + rep) % n
        for i in range(n):
            name, sample = contenders[(first + i) % n]
            print(json.dumps({"topic": topic, "contender": name, "seconds": sample()}))


def start_join(method, count):
    """The median of `count` starts and joins, as in Rust (some take ten times the usual)."""
    context = mp.get_context(method)
    times = []
    for _ in range(count):
        p = context.Process(target=noop)
        times.append(per_op(1, lambda: (p.start(), p.join())))
        assert p.exitcode == 0
    return statistics.median(times)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--reps", type=int, required=True)
    parser.add_argument("--groups", required=True, help="comma-separated: " + ",".join(GROUPS))
    parser.add_argument("--forks", type=int, required=True)
    parser.add_argument("--spawns", type=int, required=True)
    parser.add_argument("--round-trips", type=int, required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--lock-ops", type=int, required=True)
    parser.add_argument("--increments", type=int, required=True)
    parser.add_argument(
        "--size", nargs=4, action="append", default=[],
        metavar=("TOPIC", "BYTES", "MESSAGES", "REPS"),
    )
    args = parser.parse_args()
    groups = args.groups.split(",") if args.groups else []
    for group in groups:
        if group not in GROUPS:
            parser.error(f"unknown group {group!r}")
    for group in GROUPS:
        if group in groups:
            GROUPS[group](args)


def start_joins(args):
    r, reps = args.round, args.reps
    alternate("start_join", r, reps, [(FORK, lambda: start_join("fork", args.forks))])
    alternate("start_join_forkserver", r, reps, [
        (FORKSERVER, lambda: start_join("forkserver", args.spawns)),
    ])
    alternate("start_join_spawn", r, reps, [(SPAWN, lambda: start_join("spawn", args.spawns))])


def on_one_core(measure, args):
    """Runs `measure(args)` on one core, as in Rust (bench/src/cores.rs says why)."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        measure(args)
    finally:
        os.sched_setaffinity(0, allowed)


def round_trip(args):
    on_one_core(round_trips_on_one_core, args)


def round_trips_on_one_core(args):
    r, reps, n = args.round, args.reps, args.round_trips
    alternate("round_trip", r, reps, [
        (CONNECTION, lambda: with_new_child(Child(echo), round_trips, 100, n)),
    ])
    payload = b"\xa5" * PAYLOAD
    with mp.get_context("fork").Pool(1) as pool:
        pool.apply(identity, (payload,))  # the worker is up before timing
        alternate("round_trip", r, reps, [
            (APPLY, lambda: per_op(n, lambda: [pool.apply_async(identity, (payload,)).get()
                                               for _ in range(n)])),
        ])


def throughput(args):
    on_one_core(throughput_on_one_core, args)


def throughput_on_one_core(args):
    for topic, size, messages, reps in args.size:
        size, messages, reps = int(size), int(messages), int(reps)
        exchange = functools.partial(receive, size=size)
        # The warm-up message also waits for the child to make its payload.
        alternate(topic, args.round, reps, [
            (CONNECTION, lambda: with_new_child(Child(sender, size), exchange, 1, messages)),
        ])


def pool_map(args):
    r, reps = args.round, args.reps
    items = list(range(args.tasks))
    with mp.get_context("fork").Pool(args.processes) as pool:
        # Warm: the workers have done the work once before timing, as in Rust.
        pool.map(square, items)
        alternate("pool_map_default", r, reps, [
            (POOL_MAP, lambda: per_op(1, lambda: pool.map(square, items))),
        ])
        alternate("pool_map_chunk1", r, 1, [
            (POOL_MAP, lambda: per_op(1, lambda: pool.map(square, items, chunksize=1))),
        ])


def shared_state(args):
    r, reps, ops = args.round, args.reps, args.lock_ops
    lock = mp.get_context("fork").Lock()
    alternate("lock_uncontended", r, reps, [
        (LOCK_WITH, lambda: per_op(ops, lambda: lock_with(lock, ops))),
        (LOCK_CALLS, lambda: per_op(ops, lambda: lock_calls(lock, ops))),
    ])
    contended = CONTENDERS * ops
    alternate("lock_contended", r, reps, [
        (LOCK_WITH, lambda: in_processes(CONTENDERS, lock_with, lock, ops) / contended),
        (LOCK_CALLS, lambda: in_processes(CONTENDERS, lock_calls, lock, ops) / contended),
    ])
    adds = args.increments // args.processes
    # A second or two per sample: one per round, as for chunksize 1.
    seconds = counted_adds(args.processes, adds)
    # Python has no atomics: its locked Value is the reference of both topics.
    for topic in ("value_locked", "value_atomic"):
        print(json.dumps({"topic": topic, "contender": VALUE, "seconds": seconds}))


# The groups of topics, by the names `cargo run -p bench -- --only` takes, in the order run.
GROUPS = {
    "start-join": start_joins,
    "round-trip": round_trip,
    "throughput": throughput,
    "pool-map": pool_map,
    "shared-state": shared_state,
}


if __name__ == "__main__":
    main()
