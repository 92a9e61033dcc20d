"""Chapter 3's original: the child sends the page back to the parent over a Pipe.

URL on the command line, as in url_loader.py.
"""
import multiprocessing as mp
import sys
import urllib.request


def load_url(url, pipe):
    url_handle = urllib.request.urlopen(url)
    url_data = url_handle.read()
    html_data = url_data.decode('utf-8')
    url_handle.close()
    pipe.send(html_data)


if __name__ == '__main__':
    url = sys.argv[1] if len(sys.argv) > 1 else 'http://www.w3c.org'
    parent_pipe, child_pipe = mp.Pipe()
    process = mp.Process(target=load_url, args=(url, child_pipe))
    print("Spawning a new process to load the url")
    process.start()
    print("Waiting for the spawned process to send the data")
    html_data = parent_pipe.recv()
    print(html_data)
    process.join()
    print("Exiting…")
