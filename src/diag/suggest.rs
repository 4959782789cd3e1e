//! Did-you-mean: the closest known name to a misspelt one.

/// The candidate closest to `name`, when one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["passthrough", "memory", "hugepages", "hide-kvm"];
        assert_eq!(did_you_mean("passtrough", names), Some("passthrough"));
        assert_eq!(did_you_mean("memroy", names), Some("memory"));
        assert_eq!(did_you_mean("hide_kvm", names), Some("hide-kvm"));
        assert_eq!(did_you_mean("zzz", names), None);
    }
}
