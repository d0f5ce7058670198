//! Paths as the user would write them: a project given as `.`, `dir/.` or `./dir` prints as
//! `.`, `dir` and `dir`, and the files under it without a `/./`.

use std::path::{Component, Path, PathBuf};

/// `path` without its `.` components (`dir/./V0002` -> `dir/V0002`, `./dir` -> `dir`,
/// `dir/.` -> `dir`); `.` alone stays `.`. Purely lexical: `..` is kept, since removing it
/// would be wrong under a symlink, and nothing is resolved on disk.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let kept: PathBuf = path.components().filter(|c| !matches!(c, Component::CurDir)).collect();
    if kept.as_os_str().is_empty() && !path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        kept
    }
}

/// `dir.join(relative)`, normalized: `.` joined with `migrations` is `migrations`.
pub(crate) fn join(dir: &Path, relative: &Path) -> PathBuf {
    normalize(&dir.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(path: &str) -> String {
        normalize(Path::new(path)).display().to_string()
    }

    #[test]
    fn drops_current_directory_components() {
        assert_eq!(normalized("fixtures/k12_lms/."), "fixtures/k12_lms");
        assert_eq!(normalized("fixtures/k12_lms/./migrations/V0002__x.sql"), "fixtures/k12_lms/migrations/V0002__x.sql");
        assert_eq!(normalized("./fixtures/k12_lms"), "fixtures/k12_lms");
        assert_eq!(normalized("./fixtures/./k12_lms/./"), "fixtures/k12_lms");
        assert_eq!(normalized("a//b/"), "a/b");
        assert_eq!(normalized("."), ".");
        assert_eq!(normalized("./"), ".");
        assert_eq!(normalized("/."), "/");
        assert_eq!(normalized("/tmp/./p"), "/tmp/p");
        assert_eq!(normalized(""), "");
    }

    #[test]
    fn keeps_parent_components() {
        assert_eq!(normalized("../p/./migrations"), "../p/migrations");
        assert_eq!(normalized("a/../b"), "a/../b");
    }

    #[test]
    fn joins_without_a_leading_dot() {
        assert_eq!(join(Path::new("."), Path::new("migrations")), PathBuf::from("migrations"));
        assert_eq!(join(Path::new("p/."), Path::new("./schema.sql")), PathBuf::from("p/schema.sql"));
        assert_eq!(join(Path::new("p"), Path::new("/abs/schema.sql")), PathBuf::from("/abs/schema.sql"));
    }
}
