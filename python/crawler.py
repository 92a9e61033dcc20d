"""Chapter 5's Python version: a parallel crawler over two Queues, level by level.

Written for the book, in the tutorial's style. Give it a start URL, e.g. the demo site's
front page (`cargo run -p demo-site` serves it at http://127.0.0.1:8000/).
"""
import multiprocessing as mp
import re
import sys
import urllib.parse
import urllib.request

WORKERS, MAX_DEPTH = 3, 3

def same_site_links(url, html):
    links = (urllib.parse.urljoin(url, href).split('#')[0]
             for href in re.findall(r'href="([^"]*)"', html))
    site = urllib.parse.urlsplit(url).netloc
    return [link for link in links
            if urllib.parse.urlsplit(link).netloc == site]

def crawl_worker(tasks, found):
    while (url := tasks.get()) is not None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                html = response.read().decode('utf-8')
            links = same_site_links(url, html)
            found.put((url, len(html.encode()), links, None))
        except Exception as e:  # sent as text: not every exception can be pickled
            found.put((url, 0, [], str(e)))

if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit('usage: python3 python/crawler.py START_URL')
    start_url = sys.argv[1]
    tasks, found = mp.Queue(), mp.Queue()
    workers = [mp.Process(target=crawl_worker, args=(tasks, found))
               for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    seen, site_map, level = {start_url}, {}, [start_url]
    for depth in range(MAX_DEPTH + 1):  # level by level
        for url in level:  # the whole level at once: put() never blocks in Python
            tasks.put(url)
        next_level = []
        for _ in level:
            url, size, links, error = found.get(timeout=7)
            site_map[url] = (depth, size, error)
            for link in links:
                if link not in seen:
                    seen.add(link)
                    next_level.append(link)
        level = next_level
    for worker in workers:
        tasks.put(None)  # one sentinel per worker
    for worker in workers:
        worker.join()
    for url, (depth, size, error) in sorted(site_map.items()):
        if error is None:
            print(f'  {depth} {url} ({size} bytes)')
        else:
            print(f'  {depth} error: {url}: {error}')
