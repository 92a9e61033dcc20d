#!/usr/bin/env python3
"""An independent crawl, to check chapter 5's crawler against: Python's own HTML parser
(html.parser) and URL joiner (urllib.parse.urljoin) instead of html5ever and the url crate.

    python3 support/loader/scripts/independent_crawl.py URL [DEPTH] > python.txt
    cargo run --release -p ch05-crawler -- URL --depth DEPTH --workers 4 > rust.txt

It follows the crawler's rules: level by level from URL, only links on URL's site (same
scheme, host and port), no #fragment, robots.txt obeyed (urllib.robotparser), redirects
not followed but their target crawled at the same depth, only text/html answers parsed,
and images, stylesheets and scripts recorded by the kind of their element, never loaded.
It prints one line per URL, sorted: DEPTH URL OUTCOME. Not run by CI: it is for checking
against a large real site (see the report of issue 14 for a run on the Rust docs).
"""
import sys
import urllib.error
import urllib.parse
import urllib.request
import urllib.robotparser
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

PAGE, EMBEDDED = 'page', 'embedded'


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.base, self.links = None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'base' and self.base is None and attrs.get('href') is not None:
            self.base = attrs['href']
        found = {'a': ('href', PAGE), 'area': ('href', PAGE), 'iframe': ('src', PAGE),
                 'frame': ('src', PAGE), 'img': ('src', EMBEDDED),
                 'script': ('src', EMBEDDED), 'audio': ('src', EMBEDDED),
                 'video': ('src', EMBEDDED), 'source': ('src', EMBEDDED),
                 'track': ('src', EMBEDDED), 'embed': ('src', EMBEDDED),
                 'object': ('data', EMBEDDED)}.get(tag)
        if tag == 'link':
            rel = (attrs.get('rel') or '').lower().split()
            embedded = {'stylesheet', 'icon', 'apple-touch-icon', 'preload',
                        'modulepreload', 'prefetch'} & set(rel)
            as_document = attrs.get('as') == 'document'
            found = ('href', EMBEDDED if embedded and not as_document else PAGE)
        if found and attrs.get(found[0]) is not None:
            self.links.append((attrs[found[0]], found[1]))


def same_site_links(url, html):
    parser = Links()
    parser.feed(html)
    parser.close()
    base = urllib.parse.urljoin(url, parser.base) if parser.base else url
    site = urllib.parse.urlsplit(url)[:2]
    for href, kind in parser.links:
        link = urllib.parse.urldefrag(urllib.parse.urljoin(base, href.strip()))[0]
        if urllib.parse.urlsplit(link)[:2] == site:
            yield link, kind


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def load(url):
    try:
        with OPENER.open(url, timeout=10) as response:
            media_type = response.headers.get_content_type()
            if media_type != 'text/html':
                return 'other ' + media_type, []
            html = response.read().decode('utf-8')
            return 'page', list(same_site_links(url, html))
    except urllib.error.HTTPError as e:
        if 300 <= e.code < 400 and e.headers.get('Location'):
            return 'redirect', [(urllib.parse.urljoin(url, e.headers['Location']), 'redirect')]
        return f'error {e.code}', []
    except Exception as e:  # what the crawler reports as an error
        return f'error {type(e).__name__}', []


def main():
    start, depth_limit = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    robots = urllib.robotparser.RobotFileParser(urllib.parse.urljoin(start, '/robots.txt'))
    robots.read()
    seen, outcomes, level = {start}, {}, [start]
    with ThreadPoolExecutor(4) as pool:
        for depth in range(depth_limit + 1):
            next_level = []
            while level:
                allowed = [u for u in level if robots.can_fetch('ipc-tutorial', u)]
                for url in set(level) - set(allowed):
                    outcomes[url] = (depth, 'disallowed')
                redirected = []
                for url, (outcome, links) in zip(allowed, pool.map(load, allowed)):
                    outcomes[url] = (depth, outcome)
                    if depth == depth_limit and outcome == 'page':
                        links = []  # the crawler asks for no links at the last depth
                    for link, kind in links:
                        if link in seen:
                            continue
                        seen.add(link)
                        if kind == EMBEDDED:
                            outcomes[link] = (depth + 1, 'embedded')
                        elif kind == 'redirect':
                            redirected.append(link)
                        else:
                            next_level.append(link)
                level = redirected
            level = next_level
    for url, (depth, outcome) in sorted(outcomes.items()):
        print(depth, url, outcome)


if __name__ == '__main__':
    main()
