"""Chapter 1's original: load a URL in a child process.

The tutorial's program, unchanged but for one thing: the URL can be given on the command
line (the tutorial hard-codes http://www.w3c.org). Run it beside the Rust port, e.g. on
the demo site: `cargo run -p demo-site` serves it at http://127.0.0.1:8000/.
"""
import multiprocessing as mp
import sys
import urllib.request


def load_url(url):
    url_handle = urllib.request.urlopen(url)
    url_data = url_handle.read()
    # read() returns bytes: decode them to print the page as text.
    html_data = url_data.decode('utf-8')
    url_handle.close()
    print(html_data)


if __name__ == '__main__':
    url = sys.argv[1] if len(sys.argv) > 1 else 'http://www.w3c.org'
    print("Spawning a new process to load the url")
    process = mp.Process(target=load_url, args=(url,))
    process.start()
    print("Waiting for the spawned process to exit")
    process.join()
    print("Exiting…")
