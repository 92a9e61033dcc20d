//! Finding the links in a page, and turning them into full URLs on the same site.
//!
//! Two libraries do the parts that are easy to get wrong. html5ever's tokenizer reads the
//! HTML as a browser does: quoted, unquoted and upper-case attributes, `&amp;` and the other
//! character references, and no "links" inside scripts or styles. The `url` crate resolves
//! each link by the WHATWG URL standard, as a browser does, against the page's base: its
//! `<base href>` if it has one, else the page's own (final) URL. The result is normalised
//! (`..` and `.` segments resolved, scheme and host in lower case, default ports dropped,
//! no `#fragment`), so that two spellings of one page compare equal as strings.

use std::cell::RefCell;
use std::collections::HashSet;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use serde::{Deserialize, Serialize};
use url::Url;

/// What a link leads to, as the element that holds it says. Only [`Kind::Page`] links are
/// worth loading as pages; the others are images, styles and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// `<a href>`, `<area href>`, `<iframe src>`, and `<link>`s such as `rel="next"`.
    Page,
    /// `<img src>`, and icons (`<link rel="icon">`).
    Image,
    /// `<link rel="stylesheet">`.
    Stylesheet,
    /// `<script src>`.
    Script,
    /// Anything else a page embeds: audio, video, fonts, `<embed>`, `<object>`.
    Other,
}

impl Kind {
    /// The word for it in a site map.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::Image => "image",
            Kind::Stylesheet => "stylesheet",
            Kind::Script => "script",
            Kind::Other => "embedded resource",
        }
    }
}

/// One link of a page: a full, normalised URL, and what it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
    pub kind: Kind,
}

/// The links of `html`, a page whose final URL (after any redirect) is `page_url`, that stay
/// on the page's own site (same scheme, host and port; `http` or `https`). Each URL comes
/// once, with the kind of the first element that named it, in the order of the page.
///
/// Links to other sites, `mailto:`, `javascript:` and the like are left out, and so is
/// everything when `page_url` is not an `http(s)` URL.
pub fn same_site(page_url: &str, html: &str) -> Vec<Link> {
    let mut seen = HashSet::new();
    each_on_site(page_url, html)
        .filter(|link| seen.insert(link.url.clone()))
        .collect()
}

/// The links of [`same_site`], one at a time and each as often as the page names it: for
/// a caller that keeps only some of them. A full URL can be much longer than the link that
/// made it (a long `<base href>` in front of each of 100,000 short links made 200 MB of
/// URLs), so only what the caller keeps costs memory.
pub fn each_on_site(page_url: &str, html: &str) -> impl Iterator<Item = Link> + use<> {
    // Nothing to scan when the page has no web URL to resolve its links against.
    let page = parse_web_url(page_url).map(|page| (scan(html), page));
    page.into_iter().flat_map(|(found, page)| {
        // Like a browser: the first `<base href>` counts, wherever it is, resolved against
        // the page's URL; an unusable one is ignored.
        let base = (found.base.as_deref())
            .and_then(|href| page.join(href).ok())
            .unwrap_or_else(|| page.clone());
        let origin = page.origin();
        found.links.into_iter().filter_map(move |(href, kind)| {
            let mut url = base.join(&href).ok()?;
            url.set_fragment(None);
            let on_site = matches!(url.scheme(), "http" | "https") && url.origin() == origin;
            on_site.then(|| Link {
                url: url.into(),
                kind,
            })
        })
    })
}

/// The links of `html` that lead to pages on the same site (see [`same_site`]), as full URLs.
pub fn same_site_links(page_url: &str, html: &str) -> Vec<String> {
    same_site(page_url, html)
        .into_iter()
        .filter(|link| link.kind == Kind::Page)
        .map(|link| link.url)
        .collect()
}

/// `url` in the normal form that [`same_site`] gives its links, or why it is not an `http`
/// or `https` URL. A crawler normalises its start URL with it, so that the links that lead
/// back to the start are recognised.
pub fn normalise(url: &str) -> Result<String, String> {
    // The url crate would say "relative URL without a base" of `[http://x`.
    if let Some((scheme, _)) = url.split_once("://") {
        let mut chars = scheme.chars();
        let letter_first = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !letter_first || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return Err(format!(
                "{scheme} is not a scheme (a letter, then letters, digits, +, - or .)"
            ));
        }
    }
    if !url.contains("://")
        && let Some(hint) = with_http(url)
    {
        // `www.example.com`, `localhost:8000/`: what a browser would take for a site.
        return Err(format!("no scheme: {hint}, say"));
    }
    let mut parsed = Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{}: is not http or https", parsed.scheme()));
    }
    parsed.set_fragment(None);
    Ok(parsed.into())
}

/// `http://` and `url`, if `url` starts with a host name or address (a name with a dot,
/// `localhost`, or an IP address), and a port or path at most: a URL without its scheme.
fn with_http(url: &str) -> Option<String> {
    let host_like = |host: &str| host.contains('.') || host == "localhost";
    url.starts_with(|c: char| c.is_ascii_alphanumeric())
        .then(|| format!("http://{url}"))
        .filter(|full| Url::parse(full).is_ok_and(|u| u.host_str().is_some_and(host_like)))
}

/// Whether `a` and `b` are `http(s)` URLs on the same site: same scheme, host and port.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (parse_web_url(a), parse_web_url(b)) {
        (Some(a), Some(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

fn parse_web_url(url: &str) -> Option<Url> {
    Url::parse(url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
}

/// What the tokenizer saw: the first `<base href>`, and every link as written.
#[derive(Default)]
struct Found {
    base: Option<String>,
    links: Vec<(String, Kind)>,
}

fn scan(html: &str) -> Found {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(Collector::default(), TokenizerOpts::default());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.found.into_inner()
}

/// Receives the tokens: keeps the links of start tags, and tells the tokenizer where text is
/// not markup (a script's `href="..."` is JavaScript, not a link).
#[derive(Default)]
struct Collector {
    found: RefCell<Found>,
}

impl TokenSink for Collector {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        if tag.kind != TagKind::StartTag {
            return TokenSinkResult::Continue;
        }
        let mut found = self.found.borrow_mut();
        let name = &*tag.name;
        if name == "base" {
            if found.base.is_none() {
                found.base = attribute(&tag, "href").map(str::to_string);
            }
        } else if let Some((attr, kind)) = link_of(name, &tag)
            && let Some(href) = attribute(&tag, attr)
        {
            found.links.push((href.to_string(), kind));
        }
        // What a browser's tree builder tells its tokenizer: these elements hold text.
        match name {
            "script" => TokenSinkResult::RawData(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                TokenSinkResult::RawData(RawKind::Rawtext)
            }
            "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
            "plaintext" => TokenSinkResult::Plaintext,
            _ => TokenSinkResult::Continue,
        }
    }
}

/// Which attribute of element `name` holds a link, and what it leads to.
fn link_of(name: &str, tag: &Tag) -> Option<(&'static str, Kind)> {
    Some(match name {
        "a" | "area" => ("href", Kind::Page),
        "iframe" | "frame" => ("src", Kind::Page),
        "img" => ("src", Kind::Image),
        "script" => ("src", Kind::Script),
        "audio" | "video" | "source" | "track" | "embed" => ("src", Kind::Other),
        "object" => ("data", Kind::Other),
        "link" => ("href", link_kind(tag)),
        _ => return None,
    })
}

/// What a `<link>` leads to, from its `rel` (and `as`, for preloads).
fn link_kind(tag: &Tag) -> Kind {
    let rel = attribute(tag, "rel")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
    let has = |word| rels.contains(&word);
    if has("stylesheet") {
        Kind::Stylesheet
    } else if has("icon") || has("apple-touch-icon") {
        Kind::Image
    } else if has("preload") || has("modulepreload") || has("prefetch") {
        match attribute(tag, "as").unwrap_or_default() {
            "style" => Kind::Stylesheet,
            "script" => Kind::Script,
            "image" => Kind::Image,
            "document" => Kind::Page,
            _ if has("modulepreload") => Kind::Script,
            _ => Kind::Other,
        }
    } else {
        Kind::Page
    }
}

/// The value of attribute `name` (attribute names are lower case after tokenizing).
fn attribute<'t>(tag: &'t Tag, name: &str) -> Option<&'t str> {
    (tag.attrs.iter())
        .find(|attr| attr.name.ns.is_empty() && &*attr.name.local == name)
        .map(|attr| &*attr.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "http://127.0.0.1:8000/docs/start.html";

    fn pages(page_url: &str, html: &str) -> Vec<String> {
        same_site_links(page_url, html)
    }

    #[test]
    fn links_become_full_urls_on_the_same_site() {
        let html = r##"<a href="/about.html">a</a> <a href="faq.html#top">b</a>
            <a href="https://elsewhere.example/">c</a> <a href="mailto:x@y">d</a>
            <a href="http://127.0.0.1:8000/news/">e</a> <a href="#here">f</a>
            <a href="javascript:void(0)">g</a> <a href="ftp://127.0.0.1:8000/x">h</a>"##;
        assert_eq!(
            pages(PAGE, html),
            [
                "http://127.0.0.1:8000/about.html",
                "http://127.0.0.1:8000/docs/faq.html",
                "http://127.0.0.1:8000/news/",
                // `#here` is the page itself.
                "http://127.0.0.1:8000/docs/start.html",
            ]
        );
    }

    #[test]
    fn every_way_of_writing_an_attribute_counts() {
        let html = "<a href='single.html'>1</a> <a href=unquoted.html>2</a> \
                    <A HREF=\"upper.html\">3</A> <a href = \"spaced.html\">4</a> \
                    <a\nclass=x\nhref=\"lines.html\">5</a>";
        assert_eq!(
            pages(PAGE, html),
            [
                "http://127.0.0.1:8000/docs/single.html",
                "http://127.0.0.1:8000/docs/unquoted.html",
                "http://127.0.0.1:8000/docs/upper.html",
                "http://127.0.0.1:8000/docs/spaced.html",
                "http://127.0.0.1:8000/docs/lines.html",
            ]
        );
    }

    #[test]
    fn text_that_only_looks_like_a_link_is_not_one() {
        // The rustdoc case: a JavaScript template in a script, and the same in a style
        // and a comment.
        let html = r#"<script>const s = `<link href="../static.files/${f}">`;</script>
            <style>a[href="/styled.html"] { color: red }</style>
            <!-- <a href="/commented.html"> -->
            <p>Write href="/text.html" in your page.</p>
            <textarea><a href="/typed.html"></textarea>
            <a href="/real.html">real</a>"#;
        assert_eq!(pages(PAGE, html), ["http://127.0.0.1:8000/real.html"]);
    }

    #[test]
    fn character_references_are_decoded() {
        let html = r#"<a href="/search?a=1&amp;b=2">x</a> <a href="/caf&#xE9;.html">y</a>"#;
        assert_eq!(
            pages(PAGE, html),
            [
                "http://127.0.0.1:8000/search?a=1&b=2",
                "http://127.0.0.1:8000/caf%C3%A9.html",
            ]
        );
    }

    #[test]
    fn relative_links_resolve_as_in_a_browser() {
        let html = r#"<a href="?search=std::vec">q</a> <a href="../up.html">u</a>
            <a href="./a/./b/../c.html">d</a> <a href="../../../../top.html">t</a>
            <a href="//127.0.0.1:8000/x">n</a> <a href="//elsewhere.example/x">o</a>"#;
        assert_eq!(
            pages(PAGE, html),
            [
                "http://127.0.0.1:8000/docs/start.html?search=std::vec",
                "http://127.0.0.1:8000/up.html",
                "http://127.0.0.1:8000/docs/a/c.html",
                "http://127.0.0.1:8000/top.html",
                "http://127.0.0.1:8000/x",
            ]
        );
    }

    #[test]
    fn links_under_a_query_string_resolve_against_the_path() {
        let page = "http://127.0.0.1:8000/list/?page=1";
        let html = r#"<a href="?page=2">2</a> <a href="item.html">i</a> <a href="">self</a>"#;
        assert_eq!(
            pages(page, html),
            [
                "http://127.0.0.1:8000/list/?page=2",
                "http://127.0.0.1:8000/list/item.html",
                "http://127.0.0.1:8000/list/?page=1",
            ]
        );
    }

    #[test]
    fn urls_are_normalised() {
        let html = r#"<a href="HTTP://127.0.0.1:8000/a.html">1</a>
            <a href="http://LOCALHOST:80/b.html">other site</a>
            <a href="/docs/../a.html#part">2</a> <a href="/%7Euser/">3</a>"#;
        assert_eq!(
            pages(PAGE, html),
            [
                "http://127.0.0.1:8000/a.html",
                // `%7E` stays as written: WHATWG URLs do not decode it.
                "http://127.0.0.1:8000/%7Euser/",
            ]
        );
        assert_eq!(
            pages("http://Example.COM:80/a/b", r#"<a href="../c">c</a>"#),
            ["http://example.com/c"]
        );
        assert_eq!(
            normalise("HTTP://Example.com:80/a/./b/../c#x").as_deref(),
            Ok("http://example.com/a/c")
        );
    }

    #[test]
    fn the_base_element_decides_where_relative_links_lead() {
        let html = r#"<head><base href="/manual/v2/"></head>
            <a href="intro.html">i</a> <a href="/abs.html">a</a>"#;
        assert_eq!(
            pages(PAGE, html),
            [
                "http://127.0.0.1:8000/manual/v2/intro.html",
                "http://127.0.0.1:8000/abs.html",
            ]
        );
        // Only the first base counts; one on another site takes relative links with it.
        let html = r#"<base href="https://elsewhere.example/"><base href="/second/">
            <a href="x.html">x</a> <a href="/y.html">y</a>"#;
        assert!(pages(PAGE, html).is_empty());
    }

    #[test]
    fn links_resolve_against_the_url_given_which_is_the_final_one() {
        // A crawler passes the URL after redirects: `/book` answered with `/book/`.
        let html = r#"<a href="ch01.html">1</a>"#;
        assert_eq!(
            pages("http://127.0.0.1:8000/book/", html),
            ["http://127.0.0.1:8000/book/ch01.html"]
        );
        assert_eq!(
            pages("http://127.0.0.1:8000/book", html),
            ["http://127.0.0.1:8000/ch01.html"]
        );
    }

    #[test]
    fn images_styles_and_scripts_are_links_of_their_kind() {
        let html = r#"<link rel="stylesheet" href="/s.css"><link rel=icon href=/i.svg>
            <link rel="preload" as="font" href="/f.woff2"><link rel="next" href="/2.html">
            <script src="/app.js"></script><img src="/logo.png"><a href="/logo.png">big</a>
            <iframe src="/frame.html"></iframe><video src="/v.webm"></video>"#;
        let links: Vec<(String, Kind)> = same_site(PAGE, html)
            .into_iter()
            .map(|link| (link.url.replace("http://127.0.0.1:8000", ""), link.kind))
            .collect();
        let expected = [
            ("/s.css", Kind::Stylesheet),
            ("/i.svg", Kind::Image),
            ("/f.woff2", Kind::Other),
            ("/2.html", Kind::Page),
            ("/app.js", Kind::Script),
            // Named by `<img>` first: an image, even if `<a>` names it again.
            ("/logo.png", Kind::Image),
            ("/frame.html", Kind::Page),
            ("/v.webm", Kind::Other),
        ];
        let expected: Vec<(String, Kind)> =
            expected.iter().map(|&(p, k)| (p.to_string(), k)).collect();
        assert_eq!(links, expected);
    }

    #[test]
    fn each_url_comes_once() {
        let html = r#"<a href="/a">1</a> <a href="/a#x">2</a> <a href="./../a">3</a>"#;
        assert_eq!(pages(PAGE, html), ["http://127.0.0.1:8000/a"]);
    }

    #[test]
    fn a_url_without_a_path_has_the_root_as_its_folder() {
        assert_eq!(
            pages("http://host", r#"<a href="x.html">"#),
            ["http://host/x.html"]
        );
        assert!(pages("not a url", r#"<a href="/x">"#).is_empty());
        assert!(pages("file:///tmp/x.html", r#"<a href="/x">"#).is_empty());
    }

    #[test]
    fn a_site_is_a_scheme_a_host_and_a_port() {
        assert!(same_origin("http://h:8000/a", "HTTP://H:8000/b?c"));
        assert!(same_origin("https://h/", "https://h:443/x"));
        assert!(!same_origin("http://h/", "https://h/"));
        assert!(!same_origin("http://h:8000/", "http://h:8001/"));
        assert!(!same_origin("http://h/", "mailto:x@h"));
    }

    #[test]
    fn malformed_urls_say_what_is_wrong() {
        assert_eq!(
            normalise("[http://x"),
            Err("[http is not a scheme (a letter, then letters, digits, +, - or .)".into())
        );
        assert_eq!(
            normalise("www.example.com"),
            Err("no scheme: http://www.example.com, say".into())
        );
        assert_eq!(
            normalise("127.0.0.1:8000/"),
            Err("no scheme: http://127.0.0.1:8000/, say".into())
        );
        assert_eq!(
            normalise("localhost:8000/"),
            Err("no scheme: http://localhost:8000/, say".into())
        );
        assert_eq!(
            normalise("www.example.com:8080/x"),
            Err("no scheme: http://www.example.com:8080/x, say".into())
        );
        for not_a_host in ["/docs/faq.html", "//example.com/", "", "#top"] {
            let said = normalise(not_a_host).unwrap_err();
            assert!(!said.contains("http://"), "{not_a_host:?}: {said}");
        }
        assert_eq!(normalise("http://"), Err("empty host".into()));
        assert_eq!(
            normalise("ftp://x/"),
            Err("ftp: is not http or https".into())
        );
    }
}
