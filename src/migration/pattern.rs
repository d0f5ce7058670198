//! Custom file-name patterns (`pattern` in pgconverge.toml): a regex with the named groups
//! `version` (required), `name` and `direction` (`up` or `down`, any case; without the group or
//! when it does not take part in a match, the file is an up migration), matched against each
//! `.sql` file's path relative to the migrations directory, with `/` separators.

use regex::Regex;

use super::files::Role;

/// A compiled `pattern`.
#[derive(Debug, Clone)]
pub(crate) struct FilePattern {
    regex: Regex,
}

/// What a pattern read from one file's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternMatch {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) role: Role,
}

impl FilePattern {
    /// Compiles `pattern`; the error message says what is wrong (the caller names the config).
    pub(crate) fn compile(pattern: &str) -> Result<FilePattern, String> {
        let regex = Regex::new(pattern).map_err(|e| format!("`pattern` is not a valid regex: {e}"))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        if !names.contains(&"version") {
            return Err(format!(
                "`pattern` {pattern:?} has no named group `version`; write it as (?P<version>...), with optional (?P<name>...) and (?P<direction>up|down)"
            ));
        }
        if let Some(unknown) = names.iter().find(|n| !matches!(**n, "version" | "name" | "direction")) {
            return Err(format!(
                "`pattern` has a named group `{unknown}`; only `version`, `name` and `direction` mean something (use (?:...) for other groups)"
            ));
        }
        Ok(FilePattern { regex })
    }

    pub(crate) fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// `None` when the path does not match; `Some(Err)` when it matches but the version is
    /// empty or the direction is neither `up` nor `down`.
    pub(crate) fn match_path(&self, relative: &str) -> Option<Result<PatternMatch, String>> {
        let caps = self.regex.captures(relative)?;
        let version = caps.name("version").map_or("", |m| m.as_str()).to_string();
        if version.is_empty() {
            return Some(Err("`pattern` matched, but its `version` group is empty".into()));
        }
        let name = caps.name("name").map_or("", |m| m.as_str()).to_string();
        let role = match caps.name("direction").map(|m| m.as_str().to_ascii_lowercase()) {
            None => Role::Up,
            Some(d) if d == "up" => Role::Up,
            Some(d) if d == "down" => Role::Down,
            Some(d) => return Some(Err(format!("`pattern` direction is {d:?}; it must be `up` or `down`"))),
        };
        Some(Ok(PatternMatch { version, name, role }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = r"^V(?P<version>\d+)\.(?P<name>[^.]+)\.(?P<direction>up|down|UP|Down)\.sql$";

    #[test]
    fn matches_version_name_and_direction() {
        let p = FilePattern::compile(P).unwrap();
        let m = p.match_path("V0001.Initial_Schema.up.sql").unwrap().unwrap();
        assert_eq!(m, PatternMatch { version: "0001".into(), name: "Initial_Schema".into(), role: Role::Up });
        assert_eq!(p.match_path("V0001.Initial_Schema.Down.sql").unwrap().unwrap().role, Role::Down);
        assert!(p.match_path("0001_x.sql").is_none());
    }

    #[test]
    fn direction_is_optional_and_checked() {
        let p = FilePattern::compile(r"^(?P<version>\d+)-(?P<name>.+?)(?:\.(?P<direction>\w+))?\.sql$").unwrap();
        assert_eq!(p.match_path("1-a.sql").unwrap().unwrap().role, Role::Up);
        let err = p.match_path("1-a.sideways.sql").unwrap().unwrap_err();
        assert!(err.contains("must be `up` or `down`"), "{err}");
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(FilePattern::compile("(unclosed").unwrap_err().contains("not a valid regex"));
        assert!(FilePattern::compile(r"^(?P<name>.+)\.sql$").unwrap_err().contains("no named group `version`"));
        assert!(FilePattern::compile(r"^(?P<version>\d+)(?P<extra>.*)$").unwrap_err().contains("`extra`"));
    }
}
