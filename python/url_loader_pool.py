"""Chapter 2's original: spread URLs over a pool of four worker processes.

The tutorial's list keeps its two malformed URLs ('[http://...'): in Python they raise
inside the pool, and `map` re-raises the first error in the parent. URLs given on the
command line replace the list.
"""
import multiprocessing as mp
import sys
import urllib.request


def load_url(url):
    url_handle = urllib.request.urlopen(url)
    url_data = url_handle.read()
    html_data = url_data.decode('utf-8')
    url_handle.close()
    print(html_data)


if __name__ == '__main__':
    url_list = sys.argv[1:] or [
        'http://www.w3c.org',
        'http://www.microsoft.com',
        '[http://www.wikipedia.org',
        '[http://www.packt.com',
    ]
    process_pool = mp.Pool(4)
    process_pool.map(load_url, url_list)
