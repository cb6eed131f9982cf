//! A report folder's `README.md` taken apart for the page: the caption (its first paragraph),
//! the body (numbers tables, statistics, intervals) as HTML, and the artifacts its provenance
//! footer cites. The README stays the one place a report writes its numbers; the page only
//! renders it.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

/// What the page shows of one README.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readme {
    /// The first paragraph, as HTML: what the figure shows.
    pub caption: String,
    /// Everything between the caption and the provenance footer, as HTML, with the figure's
    /// own image left out (the page shows it above) and relative links pointing into the
    /// report's folder.
    pub body: String,
    /// `(name, digest)` of each artifact in the footer's provenance table.
    pub artifacts: Vec<(String, String)>,
    /// The footer's closing lines (`rendered by`, `regenerate`), as HTML.
    pub footer: String,
}

/// Split `text`, the README of the report folder `folder` (the prefix of its relative links).
pub fn parse(text: &str, folder: &str) -> Readme {
    // Reports end with a `---` rule, then `## Provenance`, its table and a few lines.
    let (main, footer) = match text.find("\n---\n") {
        Some(i) => (&text[..i], &text[i + 5..]),
        None => (text, ""),
    };
    let main = main.trim_start();
    let main = match main.strip_prefix("# ") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, r)| r),
        None => main,
    };
    let main = main.trim_start();
    let (caption, body) = match main.split_once("\n\n") {
        Some((first, rest)) if !first.starts_with('#') && !first.starts_with('|') => (first, rest),
        _ => ("", main),
    };
    let artifacts = footer
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            let [name, digest] = cells.as_slice() else {
                return None;
            };
            let (name, digest) = (
                name.trim().trim_matches('`'),
                digest.trim().trim_matches('`'),
            );
            digest
                .starts_with("sha256:")
                .then(|| (name.to_string(), digest.to_string()))
        })
        .collect();
    let closing: String = footer
        .lines()
        .filter(|l| !l.trim_start().starts_with('|') && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    Readme {
        caption: to_html(caption, folder),
        body: to_html(body, folder),
        artifacts,
        footer: to_html(&closing, folder),
    }
}

/// CommonMark with tables to HTML. Raw HTML in the Markdown is shown as text, not obeyed:
/// READMEs quote captions from the web.
fn to_html(markdown: &str, folder: &str) -> String {
    let mut skipping_image = false;
    let events =
        Parser::new_ext(markdown, Options::ENABLE_TABLES).filter_map(|event| match event {
            Event::Start(Tag::Image { ref dest_url, .. })
                if dest_url.as_ref() == "figure.svg" || dest_url.as_ref() == "figure.png" =>
            {
                skipping_image = true;
                None
            }
            Event::End(pulldown_cmark::TagEnd::Image) if skipping_image => {
                skipping_image = false;
                None
            }
            _ if skipping_image => None,
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Some(Event::Start(Tag::Image {
                link_type,
                dest_url: inside(dest_url, folder),
                title,
                id,
            })),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Some(Event::Start(Tag::Link {
                link_type,
                dest_url: inside(dest_url, folder),
                title,
                id,
            })),
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            other => Some(other),
        });
    let mut out = String::new();
    html::push_html(&mut out, events);
    // An image alone in its paragraph leaves an empty one behind.
    out.replace("<p></p>\n", "")
}

/// A relative URL of the README, made relative to the page (one folder up).
fn inside<'a>(url: CowStr<'a>, folder: &str) -> CowStr<'a> {
    let absolute = url.contains("://") || url.starts_with('/') || url.starts_with('#');
    if absolute || url.starts_with("data:") || url.starts_with("mailto:") {
        url
    } else {
        CowStr::from(format!("{folder}/{url}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "# Figure 1: rankings\n\nRanks on *a* and b.\n\n\
        ![Figure 1](figure.svg)\n\n## Numbers\n\n| model | a (%) | interval |\n| --- | --- | --- |\n\
        | alexnet | 56.52 | [4.18, 7.39] |\n\nSee [the data](data.csv) and <script>x</script>.\n\n\
        ---\n\n## Provenance\n\n| artifact | digest |\n| --- | --- |\n\
        | `stats-a/stats.json` | `sha256:2880` |\n\nrendered by: repro 0.1.0  \nregenerate: `repro report`\n";

    #[test]
    fn splits_caption_tables_and_provenance() {
        let r = parse(README, "fig1-rankings");
        assert_eq!(r.caption, "<p>Ranks on <em>a</em> and b.</p>\n");
        assert!(r.body.contains("<table>") && r.body.contains("<td>56.52</td>"));
        assert!(!r.body.contains("figure.svg"), "{}", r.body);
        assert!(
            r.body.contains("href=\"fig1-rankings/data.csv\""),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("&lt;script&gt;"),
            "raw HTML is text: {}",
            r.body
        );
        assert!(!r.body.contains("Provenance"));
        assert_eq!(
            r.artifacts,
            vec![("stats-a/stats.json".to_string(), "sha256:2880".to_string())]
        );
        assert!(r.footer.contains("repro 0.1.0") && !r.footer.contains("sha256"));
    }

    #[test]
    fn a_readme_without_footer_or_caption_is_all_body() {
        let r = parse("## Numbers\n\n| a |\n| --- |\n| 1 |\n", "x");
        assert_eq!(r.caption, "");
        assert!(r.body.contains("<td>1</td>"));
        assert!(r.artifacts.is_empty());
    }
}
