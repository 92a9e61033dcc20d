"""Chapter 7's Python version: a counter in shared memory, loaders that count in rows of a
shared Array, and a process killed while it holds a Lock.

The tutorial stops before shared memory; this program was written for the book, in the
tutorial's style. Give it URLs, e.g. the demo site's pages (`cargo run -p demo-site`
serves them at http://127.0.0.1:8000/).
"""
import ctypes
import multiprocessing as mp
import sys
import time
import urllib.request

RACERS = 4
ADDS = 100_000
LOADERS = 3


def add_without_lock(start, counter):
    start.wait()
    for _ in range(ADDS):
        counter.value += 1  # read, then write: another may cut in


def add_with_lock(start, counter):
    start.wait()
    for _ in range(ADDS):
        with counter.get_lock():
            counter.value += 1


def race(add, counter):
    """Runs `add` in RACERS processes that start together; returns the seconds taken."""
    start = mp.Barrier(RACERS + 1)
    racers = [mp.Process(target=add, args=(start, counter)) for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    start.wait()
    began = time.perf_counter()
    for racer in racers:
        racer.join()
    return time.perf_counter() - began


class Stats(ctypes.Structure):
    """What one loader loaded: a row of an Array in shared memory."""
    _fields_ = [('pages', ctypes.c_uint64), ('bytes', ctypes.c_uint64),
                ('errors', ctypes.c_uint64)]


def load_and_count(urls, next_url, rows, row):
    while True:
        with next_url.get_lock():  # no atomics in Python: a lock around the + 1
            i = next_url.value
            next_url.value += 1
        if i >= len(urls):
            return
        try:
            with urllib.request.urlopen(urls[i], timeout=10) as response:
                html = response.read().decode('utf-8')
            with rows.get_lock():
                rows[row].pages += 1
                rows[row].bytes += len(html.encode())
        except Exception as e:
            with rows.get_lock():
                rows[row].errors += 1
            print(f'  loader {row + 1}: error: {urls[i]}: {e}', file=sys.stderr)


def hold_until_killed(lock, holding):
    lock.acquire()
    holding.set()
    time.sleep(3600)


if __name__ == '__main__':
    urls = sys.argv[1:]
    if not urls:
        sys.exit('usage: python3 python/shared_state.py URL...')
    total = RACERS * ADDS
    print(f'{RACERS} processes add 1 to one counter, {ADDS} times each:')
    counter = mp.Value('Q', 0, lock=False)
    took = race(add_without_lock, counter)
    lost = total - counter.value
    print(f'  without a lock: {counter.value} of {total} ({lost} lost), in {took:.3f} s')
    counter = mp.Value('Q', 0)
    took = race(add_with_lock, counter)
    print(f'  with a Lock: {counter.value} of {total}, in {took:.3f} s')
    print('  with an atomic: Python has none')

    print(f'{len(urls)} URLs with {LOADERS} loader processes, '
          'each counting in its own row of shared memory:')
    rows, next_url = mp.Array(Stats, LOADERS), mp.Value('Q', 0)
    loaders = [mp.Process(target=load_and_count, args=(urls, next_url, rows, row))
               for row in range(LOADERS)]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join()
    for row, stats in enumerate(rows):
        print(f'  loader {row + 1}: {stats.pages} pages, {stats.bytes} bytes, '
              f'{stats.errors} errors')

    print('A process killed while it holds a Lock:')
    lock, holding = mp.Lock(), mp.Event()
    doomed = mp.Process(target=hold_until_killed, args=(lock, holding))
    doomed.start()
    holding.wait()
    doomed.kill()
    doomed.join()
    print(f'  process {doomed.pid} took the lock and was killed (exit code {doomed.exitcode})')
    if lock.acquire(timeout=2):
        print('  acquire(timeout=2) got the lock')
    else:
        print('  acquire(timeout=2) returned False: the lock stays locked for ever')
