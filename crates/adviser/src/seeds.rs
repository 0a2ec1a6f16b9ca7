//! Finding the four articles (shared/seeds) and comparing quotes with them, whitespace-normalised.
//! Used by the test that checks every rule's quote appears verbatim in its article.

use std::path::{Path, PathBuf};

/// Where the articles are: `$STACKWISE_SEEDS`, then `<repo>/../shared/seeds`, then
/// `/work/shared/seeds`. `repo` is the repository root.
pub fn find_seeds(repo: &Path) -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os("STACKWISE_SEEDS") {
        let dir = PathBuf::from(dir);
        if dir.is_dir() {
            return Ok(dir);
        }
        return Err(format!(
            "STACKWISE_SEEDS={} is not a directory: point it at the folder of the articles (shared/seeds)",
            dir.display()
        ));
    }
    for dir in [
        repo.join("../shared/seeds"),
        PathBuf::from("/work/shared/seeds"),
    ] {
        if dir.is_dir() {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    Err(format!(
        "the articles (shared/seeds) were not found; tried {}. Set STACKWISE_SEEDS to their folder, or STACKWISE_SKIP_SEEDS=1 to skip the quote check",
        tried.join(", ")
    ))
}

/// Whitespace runs collapsed to one space, trimmed.
pub fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_collapses_whitespace() {
        assert_eq!(normalise("  a\n\tb   c "), "a b c");
    }
}
