"""Chapter 4's Python version: a producer and three loaders around two Queues.

The tutorial names multiprocessing.Queue but has no program for it; this one was written
for the book, in the tutorial's style. Give it URLs, e.g. the demo site's pages
(`cargo run -p demo-site` serves them at http://127.0.0.1:8000/).
"""
import multiprocessing as mp
import os
import sys
import urllib.request

LOADERS = 3

def producer(urls, tasks):
    for url in urls:
        tasks.put(url)
    for _ in range(LOADERS):
        tasks.put(None)  # one sentinel per loader: "no more work"

def loader(tasks, results):
    while (url := tasks.get()) is not None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                html = response.read().decode('utf-8')
            results.put((url, os.getpid(), html, None))
        except Exception as e:  # sent as text: not every exception can be pickled
            results.put((url, os.getpid(), None, str(e)))

if __name__ == '__main__':
    urls = sys.argv[1:]
    if not urls:
        sys.exit('usage: python3 python/url_loader_queue.py URL...')
    tasks, results = mp.Queue(), mp.Queue()
    processes = [mp.Process(target=producer, args=(urls, tasks))]
    processes += [mp.Process(target=loader, args=(tasks, results))
                  for _ in range(LOADERS)]
    print(f'Starting 1 producer and {LOADERS} loader processes')
    for process in processes:
        process.start()
    # Every report before any join: see the pitfalls.
    reports = [results.get(timeout=20) for _ in urls]
    for url, pid, html, error in sorted(reports, key=lambda r: urls.index(r[0])):
        if error is None:
            print(f'worker {pid}: {url} ({len(html.encode())} bytes)')
        else:
            print(f'worker {pid}: error: {url}: {error}', file=sys.stderr)
    for process in processes:
        process.join()
    print('Exiting…')
