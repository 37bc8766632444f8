//! Certificate name matching (RFC 6125): exact names, and a wildcard only as the whole left-most
//! label, matching exactly one label.

pub fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

pub fn covers(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (normalise(pattern), normalise(host));
    if pattern == host {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(parent) if !parent.is_empty() && parent.contains('.') => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        _ => false,
    }
}

pub fn any_covers<'a>(patterns: impl IntoIterator<Item = &'a String>, host: &str) -> bool {
    patterns.into_iter().any(|p| covers(p, host))
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn exact_names_match_case_insensitively() {
        assert!(covers("Shop.Example", "shop.example."));
        assert!(!covers("shop.example", "www.shop.example"));
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        assert!(covers("*.shop.example", "www.shop.example"));
        assert!(!covers("*.shop.example", "shop.example"));
        assert!(!covers("*.shop.example", "a.b.shop.example"));
        assert!(
            !covers("*.example", "shop.example"),
            "no wildcard directly under a single label"
        );
        assert!(
            !covers("w*.shop.example", "www.shop.example"),
            "partial-label wildcards are not honoured"
        );
    }
}
