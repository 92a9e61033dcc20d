//! Finding the links in a page, and turning them into full URLs on the same site. Plain
//! string work, no HTML parser: enough for the demo site and for simple pages.

/// The links of `html`, a page at `page_url`, as full URLs on the page's own site, without
/// fragments (`#...`). Links to other sites, and `mailto:` and the like, are left out.
pub fn same_site_links(page_url: &str, html: &str) -> Vec<String> {
    let Some(origin) = origin(page_url) else {
        return Vec::new();
    };
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|href| resolve(origin, page_url, href.split('#').next()?))
        .collect()
}

/// `scheme://host[:port]` of `url`, if it has one.
fn origin(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    Some(&url[..end])
}

fn resolve(origin: &str, page_url: &str, href: &str) -> Option<String> {
    if href.is_empty() {
        return None;
    }
    if href.contains("://") {
        // A full URL: keep it only if it is on this site.
        return (self::origin(href) == Some(origin)).then(|| href.to_string());
    }
    if let Some(path) = href.strip_prefix('/') {
        return Some(format!("{origin}/{path}"));
    }
    if href.contains(':') {
        return None; // mailto:, javascript:, ...
    }
    // Relative to the page's folder.
    let folder = match page_url[origin.len()..].rsplit_once('/') {
        Some((folder, _)) => folder,
        None => "", // no path at all: the root
    };
    Some(format!("{origin}{folder}/{href}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_full_urls_on_the_same_site() {
        let html = r##"<a href="/about.html">a</a> <a href="faq.html#top">b</a>
            <a href="https://elsewhere.example/">c</a> <a href="mailto:x@y">d</a>
            <a href="http://127.0.0.1:8000/news/">e</a> <a href="#here">f</a>"##;
        assert_eq!(
            same_site_links("http://127.0.0.1:8000/docs/start.html", html),
            [
                "http://127.0.0.1:8000/about.html",
                "http://127.0.0.1:8000/docs/faq.html",
                "http://127.0.0.1:8000/news/",
            ]
        );
    }

    #[test]
    fn a_url_without_a_path_has_the_root_as_its_folder() {
        assert_eq!(
            same_site_links("http://host", r#"<a href="x.html">"#),
            ["http://host/x.html"]
        );
        assert!(same_site_links("not a url", r#"<a href="/x">"#).is_empty());
    }
}
