//! docs/contract.md and the code agree on the finding codes: every code in the catalog has its
//! row in the contract (with the documentation link the findings carry), and every row names a
//! code that exists. And the documentation holds together: every relative link in README.md and
//! docs/*.md leads to a file in the repository and, when it names one, to a heading that exists.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use cf_doctor_model::Code;

fn contract() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/contract.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of the tables under "## Finding codes", as (code, whole row).
fn code_rows(contract: &str) -> Vec<(String, String)> {
    rows_under(contract, "Finding codes")
}

/// The rows of the tables under a `## ` heading that start with a code, as (code, whole row).
fn rows_under(contract: &str, heading: &str) -> Vec<(String, String)> {
    let section = contract
        .split_once(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("docs/contract.md has a \"## {heading}\" section"))
        .1;
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| {
            let first = line.strip_prefix("| `")?;
            let code = first.split('`').next()?;
            Some((code.to_string(), line.to_string()))
        })
        .collect()
}

#[test]
fn every_code_is_in_the_contract_and_every_contract_code_exists() {
    let rows = code_rows(&contract());
    let documented: BTreeSet<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    let catalog: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let undocumented: Vec<_> = catalog.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&catalog).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "codes without a row in docs/contract.md: {undocumented:?}; rows naming no code: {unknown:?}"
    );
    assert_eq!(rows.len(), documented.len(), "a code has two rows");
}

#[test]
fn the_contract_says_the_fix_of_every_code() {
    let rows = rows_under(&contract(), "Fixes");
    let listed: BTreeSet<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    let catalog: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        listed, catalog,
        "the \"## Fixes\" table of docs/contract.md lists every code once"
    );
    assert_eq!(
        rows.len(),
        listed.len(),
        "a code has two rows under \"## Fixes\""
    );
}

#[test]
fn each_row_links_the_page_its_findings_link() {
    let rows = code_rows(&contract());
    for code in Code::ALL {
        let (_, row) = rows
            .iter()
            .find(|(c, _)| c == code.as_str())
            .expect("checked above");
        assert!(
            row.contains(&code.docs()),
            "the row of {code} in docs/contract.md does not link {}",
            code.docs()
        );
    }
}

#[test]
fn the_check_reads_rows_and_notices_a_missing_one() {
    let contract = contract();
    let without = contract.replace("| `origin-slow` |", "| origin-slow |");
    assert!(!code_rows(&without).iter().any(|(c, _)| c == "origin-slow"));
    assert!(code_rows(&contract).len() >= 20);
}

// The links. The README is a short page that sends readers to docs/, so a moved or renamed page
// or heading must fail here rather than leave a dead link behind. This lives in the model's
// tests because this crate is pure and builds in seconds; the check needs nothing else.

/// The repository root: this crate is crates/model.
fn repo_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .expect("the repository root exists")
}

/// README.md and every docs/*.md, as paths relative to the repository root.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| {
            path.strip_prefix(root)
                .expect("under the root")
                .to_path_buf()
        })
        .collect();
    docs.sort();
    let mut files = vec![PathBuf::from("README.md")];
    files.extend(docs);
    files
}

/// The text with fenced code blocks blanked out (newlines kept, so offsets and line numbers still
/// match the original): a `[x](y)` or a `# comment` inside a code block is not Markdown.
fn without_fences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<(char, usize)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        let is_fence = run >= 3;
        let in_code = match fence {
            Some((c, n)) => {
                // Only a run of the same character, at least as long, closes a fence.
                if is_fence && marker == Some(c) && run >= n {
                    fence = None;
                }
                true
            }
            None if is_fence => {
                fence = marker.map(|c| (c, run));
                true
            }
            None => false,
        };
        if in_code {
            // One space per byte, so that offsets into the original still hold.
            out.extend(line.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The text with fenced code blocks and code spans blanked out, offsets kept. A span opened by a
/// run of n backticks closes at the next run of exactly n in the same paragraph; an unmatched run
/// is a literal backtick, as in CommonMark.
fn without_code(text: &str) -> String {
    let mut bytes = without_fences(text).into_bytes();
    let run_at = |bytes: &[u8], i: usize| bytes[i..].iter().take_while(|b| **b == b'`').count();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let n = run_at(&bytes, i);
        let paragraph_end = bytes[i..]
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(bytes.len(), |p| i + p);
        let mut j = i + n;
        let mut close = None;
        while j < paragraph_end {
            if bytes[j] == b'`' {
                let m = run_at(&bytes, j);
                if m == n {
                    close = Some(j + m);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                // Whole characters are blanked (a span starts and ends at an ASCII backtick), so
                // the bytes stay valid UTF-8.
                for b in &mut bytes[i..end] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = end;
            }
            None => i += n,
        }
    }
    String::from_utf8(bytes).expect("blanking whole characters keeps UTF-8")
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped (hyphens and underscores kept),
/// spaces turned into hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a file's headings; a repeated heading gets GitHub's `-1`, `-2`, ... suffix.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for line in without_fences(markdown).lines() {
        // Up to three spaces of indentation; four make it code.
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > 3 {
            continue;
        }
        let line = &line[indent..];
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let rest = &line[hashes..];
        if !(1..=6).contains(&hashes) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            continue;
        }
        // An optional closing run of #s is not part of the heading.
        let text = rest.trim().trim_end_matches('#').trim_end();
        let base = slug(text);
        let mut anchor = base.clone();
        let mut n = 0;
        while anchors.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        anchors.insert(anchor);
    }
    anchors
}

/// An inline link or image: its 1-based line, its `[text]` as written, and its target.
struct Link {
    line: usize,
    text: String,
    target: String,
}

/// The inline links `[text](target)` outside code. A target's optional title (`(path "title")`)
/// and angle brackets (`(<path>)`) are dropped.
fn links(markdown: &str) -> Vec<Link> {
    let prose = without_code(markdown);
    let bytes = prose.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(p) = prose[from..].find("](") {
        let close = from + p;
        from = close + 2;
        // The `[` that opens the text, brackets balanced, within the paragraph.
        let mut depth = 0;
        let mut open = None;
        for i in (0..close).rev() {
            match bytes[i] {
                b']' => depth += 1,
                b'[' if depth == 0 => {
                    open = Some(i);
                    break;
                }
                b'[' => depth -= 1,
                b'\n' if i > 0 && bytes[i - 1] == b'\n' => break,
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        // The `)` that closes the target, parentheses balanced, on the same line.
        let mut depth = 0;
        let mut end = None;
        for (i, b) in bytes.iter().enumerate().skip(close + 2) {
            match b {
                b'(' => depth += 1,
                b')' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                b')' => depth -= 1,
                b'\n' => break,
                _ => {}
            }
        }
        let Some(end) = end else { continue };
        let raw = prose[close + 2..end].trim();
        let target = match raw.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or(rest),
            None => raw.split_whitespace().next().unwrap_or(""),
        };
        found.push(Link {
            line: prose[..open].matches('\n').count() + 1,
            text: markdown[open..=close].to_string(),
            target: target.to_string(),
        });
        from = end + 1;
    }
    found
}

/// A link out of the repository, to the web or to mail, which this check leaves alone.
fn is_web(target: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

/// `target` resolved against `dir` (both relative to the repository root), without touching the
/// file system, or None when it climbs out of the repository. A leading `/` is the repository
/// root, as GitHub reads it.
fn resolve(dir: &Path, target: &str) -> Option<PathBuf> {
    let (base, target) = match target.strip_prefix('/') {
        Some(rest) => (Path::new(""), rest),
        None => (dir, target),
    };
    let mut resolved = PathBuf::new();
    for part in base.join(target).components() {
        match part {
            Component::CurDir => {}
            // Popping past the root, or an absolute path left over (`//x`), is out of the tree.
            Component::ParentDir if !resolved.pop() => return None,
            Component::ParentDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
            Component::Normal(name) => resolved.push(name),
        }
    }
    Some(resolved)
}

/// Every broken relative link of `file` (relative to the repository root), whose text is
/// `markdown`: one message each, naming the file, the link and what is missing.
fn broken_links(root: &Path, file: &Path, markdown: &str) -> Vec<String> {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut broken = Vec::new();
    for link in links(markdown) {
        let target = link.target.as_str();
        if is_web(target) {
            continue;
        }
        let at = format!("{}:{}: {}({target})", file.display(), link.line, link.text);
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target, None),
        };
        let (shown, text) = if path.is_empty() {
            if target.is_empty() {
                broken.push(format!("{at}: the link has no target"));
                continue;
            }
            (file.to_path_buf(), markdown.to_string())
        } else {
            let Some(resolved) = resolve(dir, path) else {
                broken.push(format!("{at}: {path} leads outside the repository"));
                continue;
            };
            if !root.join(&resolved).exists() {
                broken.push(format!("{at}: {} does not exist", resolved.display()));
                continue;
            }
            // Anchors are only checked in Markdown; GitHub's line anchors (#L10) are not headings.
            if anchor.is_none() || resolved.extension().is_none_or(|ext| ext != "md") {
                continue;
            }
            let text = std::fs::read_to_string(root.join(&resolved))
                .unwrap_or_else(|e| panic!("{}: {e}", resolved.display()));
            (resolved, text)
        };
        if let Some(anchor) = anchor {
            if !anchors(&text).contains(anchor) {
                broken.push(format!(
                    "{at}: {} has no heading whose anchor is #{anchor}",
                    shown.display()
                ));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_readme_and_docs_leads_somewhere() {
    let root = repo_root();
    let files = markdown_files(&root);
    assert!(
        files.contains(&PathBuf::from("docs/contract.md")),
        "the docs were not found: {files:?}"
    );
    let mut broken = Vec::new();
    let mut relative = 0;
    for file in &files {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        relative += links(&text).iter().filter(|l| !is_web(&l.target)).count();
        broken.extend(broken_links(&root, file, &text));
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    // The README sends readers to every page; far fewer links means the parser lost them.
    assert!(
        relative >= 15,
        "only {relative} relative links found in {files:?}"
    );
}

#[test]
fn the_readme_links_only_inside_the_repository() {
    // The README is the repository's front page: a link out of the tree resolves nowhere on
    // GitHub (and reaches into someone's disk locally).
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let escaping: Vec<String> = links(&readme)
        .into_iter()
        .filter(|l| !is_web(&l.target))
        .filter(|l| resolve(Path::new(""), l.target.split('#').next().unwrap_or("")).is_none())
        .map(|l| format!("README.md:{}: {}({})", l.line, l.text, l.target))
        .collect();
    assert!(
        escaping.is_empty(),
        "README.md links outside the repository: {escaping:?}"
    );
}

#[test]
fn the_link_check_notices_what_is_broken_and_skips_code() {
    // A page as if at docs/synthetic.md, with one link of each kind; only the broken ones are
    // reported, and never a link inside code.
    let page = "# A page\n\
        \n\
        ## Second heading, with `code`!\n\
        \n\
        [ok file](contract.md) [ok anchor](contract.md#metrics) [ok self](#second-heading-with-code)\n\
        [ok dir](../events/) ![ok image](../events/alarm-direct.json \"title\") [web](https://example.com/x)\n\
        [mail](mailto:someone@example.com) [ok root](/README.md)\n\
        [missing](no-such-page.md) [bad anchor](contract.md#no-such-heading) [bad self](#nowhere)\n\
        [escapes](../../outside.md)\n\
        `[in code](in-code.md)` and ``[in ` code](in-code.md)``\n\
        \n\
        ```sh\n\
        [in a fence](in-fence.md)\n\
        ```\n";
    let broken = broken_links(&repo_root(), Path::new("docs/synthetic.md"), page);
    let expected = [
        "docs/synthetic.md:8: [missing](no-such-page.md): docs/no-such-page.md does not exist",
        "docs/synthetic.md:8: [bad anchor](contract.md#no-such-heading): docs/contract.md has no heading whose anchor is #no-such-heading",
        "docs/synthetic.md:8: [bad self](#nowhere): docs/synthetic.md has no heading whose anchor is #nowhere",
        "docs/synthetic.md:9: [escapes](../../outside.md): ../../outside.md leads outside the repository",
    ];
    assert_eq!(broken, expected);
}

#[test]
fn anchors_follow_githubs_slugs() {
    let contract = contract();
    let headings = anchors(&contract);
    assert!(headings.contains("metrics"));
    assert!(headings.contains("the-diagnosis-cf-doctordiagnosisv1"));
    assert!(headings.contains("many-accounts-the-account-summary-and-the-organization-digest"));
    let repeated =
        anchors("## Delivery\n\n## Delivery\n\n```sh\n# not a heading\n```\n    # code\n");
    assert_eq!(Vec::from_iter(repeated), ["delivery", "delivery-1"]);
}
