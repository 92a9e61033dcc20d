"""Chapter 6's original: chapter 2's URLs loaded by a pool under each start method, from a
program that has a second thread (a ticker), then the cost of starting and joining one
process under each method. Written for the book, in the tutorial's style.

Python 3.11 forks from the threaded program without a word; the book says what 3.12 and
3.14 change. A URL that fails becomes a line, so that every method gets its turn. URLs
given on the command line replace the list.
"""
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
import urllib.request

ROUNDS = 20


def load_url(url):
    try:
        url_handle = urllib.request.urlopen(url)
        url_data = url_handle.read()
        url_data.decode('utf-8')  # a page that is not UTF-8 is an error, as in chapter 1
        url_handle.close()
        return f'worker {os.getpid()}: {url} ({len(url_data)} bytes)'
    except Exception as e:
        return f'worker {os.getpid()}: error: {url}: {e}'


def tick(stop):
    """The ticker: wakes up every 0.1 s, as a progress display would, until told to stop."""
    while not stop.wait(0.1):
        pass


def nothing():
    pass


def start_join(ctx):
    """The median time, in milliseconds, of starting and joining a process that does nothing."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        process = ctx.Process(target=nothing)
        process.start()
        process.join()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


if __name__ == '__main__':
    url_list = sys.argv[1:] or [
        'http://www.w3c.org',
        'http://www.microsoft.com',
        '[http://www.wikipedia.org',
        '[http://www.packt.com',
    ]
    stop = threading.Event()
    ticker = threading.Thread(target=tick, args=(stop,))
    ticker.start()
    print(f'A ticker runs on a thread of its own: {threading.active_count()} threads now')
    costs = {}
    for method in ['fork', 'forkserver', 'spawn']:
        ctx = mp.get_context(method)
        print(f'{method}:')
        with ctx.Pool(4) as process_pool:
            for line in process_pool.map(load_url, url_list):
                print(f'  {line}')
        costs[method] = start_join(ctx)
    stop.set()
    ticker.join()
    print(f'Start + join of a process that does nothing, median of {ROUNDS}:')
    for method, cost in costs.items():
        print(f'  {method:<11} {cost:.2f} ms')
