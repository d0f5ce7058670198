//! Manifests: files that list migration files in the order they run (`order = "manifest"`).
//!
//! A manifest is either JSON, a top-level array of file names or an object whose `manifest_key`
//! holds that array (`{"files": ["001_a.sql", "002_b.sql"]}`; a dotted key such as
//! `migrations.files` walks nested objects), or text (any other extension, e.g. `manifest.txt`):
//! one file name per line, blank lines and `#` comments ignored. Names are relative to the
//! directory that holds the manifest; `./` prefixes and `\` separators are normalized.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{location_at, read_text, Location, MigrationError};

/// The manifest file name when `manifest` is not set.
pub(crate) const DEFAULT_MANIFEST: &str = "manifest.json";

/// The file names a manifest lists, in order, with where each one is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) path: PathBuf,
    /// Normalized relative names, in manifest order.
    pub(crate) entries: Vec<String>,
    /// The position of each entry in the manifest file (the line of a text manifest; the line
    /// of the array element in a JSON one, where it can be found).
    pub(crate) locations: Vec<Location>,
}

impl Manifest {
    /// Reads and validates a manifest: every entry a non-empty string, no entry twice.
    pub(crate) fn read(path: &Path, key: Option<&str>) -> Result<Manifest, MigrationError> {
        let text = read_text(path)?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let raw = if is_json { json_entries(path, &text, key)? } else { text_entries(path, &text) };
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut entries = Vec::new();
        let mut locations = Vec::new();
        for (name, offset) in raw {
            let location = location_at(path, &text, offset);
            let normalized = normalize(&name);
            if normalized.is_empty() {
                return Err(MigrationError::Invalid { location, message: "empty file name in the manifest".into() });
            }
            if let Some(first) = seen.get(&normalized) {
                let message = format!("the manifest lists {normalized} twice (first on line {})", locations_line(&locations, *first));
                return Err(MigrationError::Invalid { location, message });
            }
            seen.insert(normalized.clone(), entries.len());
            entries.push(normalized);
            locations.push(location);
        }
        Ok(Manifest { path: path.to_path_buf(), entries, locations })
    }

    /// Errors unless every listed entry exists under `base` (the manifest's directory).
    pub(crate) fn check_listed_exist(&self, base: &Path) -> Result<(), MigrationError> {
        for (entry, location) in self.entries.iter().zip(&self.locations) {
            if !base.join(entry).exists() {
                return Err(MigrationError::Invalid {
                    location: location.clone(),
                    message: format!("the manifest lists {entry}, but {} does not exist", base.join(entry).display()),
                });
            }
        }
        Ok(())
    }

    /// The error for a migration file the manifest does not list.
    pub(crate) fn unlisted(&self, file: &Path) -> MigrationError {
        MigrationError::Unrecognized {
            path: file.to_path_buf(),
            message: format!(
                "not listed in the manifest {} (order = \"manifest\"); list it, remove the file, or set manifest_unlisted = \"ignore\" if unlisted files are deliberately not migrations",
                self.path.display()
            ),
        }
    }
}

fn locations_line(locations: &[Location], index: usize) -> usize {
    locations.get(index).map_or(0, |l| l.line)
}

/// `./a.sql` → `a.sql`, `v1\\a.sql` → `v1/a.sql`, surrounding whitespace trimmed.
pub(crate) fn normalize(name: &str) -> String {
    let mut name = name.trim().replace('\\', "/");
    while let Some(rest) = name.strip_prefix("./") {
        name = rest.to_string();
    }
    name
}

fn text_entries(_path: &Path, text: &str) -> Vec<(String, usize)> {
    let mut entries = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.split('#').next().unwrap_or("").trim();
        if !content.is_empty() {
            let column = line.find(content).unwrap_or(0);
            entries.push((content.to_string(), offset + column));
        }
        offset += line.len();
    }
    entries
}

fn json_entries(path: &Path, text: &str, key: Option<&str>) -> Result<Vec<(String, usize)>, MigrationError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        let location = Location { file: path.to_path_buf(), line: e.line().max(1), column: e.column().max(1) };
        MigrationError::Invalid { location, message: format!("not a valid JSON manifest: {e}") }
    })?;
    let whole = || location_at(path, text, 0);
    let list = match (&value, key) {
        (serde_json::Value::Array(items), None) => items,
        (serde_json::Value::Object(_), None) => {
            let keys: Vec<_> = value.as_object().into_iter().flat_map(|o| o.keys().cloned()).collect();
            return Err(MigrationError::Invalid {
                location: whole(),
                message: format!(
                    "the manifest is a JSON object (keys: {}); set `manifest_key` in pgconverge.toml to the key that holds the file list",
                    keys.join(", ")
                ),
            });
        }
        (_, Some(key)) => {
            let mut current = &value;
            for part in key.split('.') {
                current = current.get(part).ok_or_else(|| MigrationError::Invalid {
                    location: whole(),
                    message: format!("the manifest has no key `{key}` (`manifest_key` in pgconverge.toml)"),
                })?;
            }
            current.as_array().ok_or_else(|| MigrationError::Invalid {
                location: whole(),
                message: format!("`{key}` in the manifest is not an array of file names"),
            })?
        }
        (_, None) => {
            return Err(MigrationError::Invalid {
                location: whole(),
                message: "a JSON manifest is an array of file names, or an object with `manifest_key`".into(),
            })
        }
    };
    let mut search_from = 0;
    let mut entries = Vec::new();
    for item in list {
        let Some(name) = item.as_str() else {
            return Err(MigrationError::Invalid {
                location: whole(),
                message: format!("the manifest's list holds {item}, which is not a file name (a string)"),
            });
        };
        // Best effort: the element's position is the next occurrence of its JSON spelling.
        let quoted = serde_json::to_string(name).unwrap_or_default();
        let offset = text[search_from..].find(&quoted).map_or(0, |i| search_from + i);
        if offset > 0 {
            search_from = offset + quoted.len();
        }
        entries.push((name.to_string(), offset));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    #[test]
    fn reads_json_arrays_objects_and_text() {
        let dir = layout(&[
            ("a.json", r#"["./2.sql", "1.sql"]"#),
            ("b.json", "{\"meta\": 1,\n \"files\": [\"x.sql\",\n \"y.sql\"]}"),
            ("c.txt", "# order\n2.sql\n\n1.sql  # first\n"),
            ("d.json", r#"{"a": {"b": ["z.sql"]}}"#),
        ]);
        let a = Manifest::read(&dir.path().join("a.json"), None).unwrap();
        assert_eq!(a.entries, vec!["2.sql", "1.sql"]);
        let b = Manifest::read(&dir.path().join("b.json"), Some("files")).unwrap();
        assert_eq!(b.entries, vec!["x.sql", "y.sql"]);
        assert_eq!((b.locations[1].line, b.locations[1].column), (3, 2));
        let c = Manifest::read(&dir.path().join("c.txt"), None).unwrap();
        assert_eq!(c.entries, vec!["2.sql", "1.sql"]);
        assert_eq!(c.locations[1].line, 4);
        let d = Manifest::read(&dir.path().join("d.json"), Some("a.b")).unwrap();
        assert_eq!(d.entries, vec!["z.sql"]);
    }

    #[test]
    fn malformed_manifests_are_errors() {
        let dir = layout(&[
            ("obj.json", r#"{"files": ["a.sql"]}"#),
            ("bad.json", "[\"a.sql\",\n oops]"),
            ("num.json", "[1]"),
            ("dup.txt", "a.sql\nb.sql\na.sql\n"),
        ]);
        let err = Manifest::read(&dir.path().join("obj.json"), None).unwrap_err().to_string();
        assert!(err.contains("obj.json:1:1") && err.contains("manifest_key") && err.contains("files"), "{err}");
        let err = Manifest::read(&dir.path().join("obj.json"), Some("list")).unwrap_err().to_string();
        assert!(err.contains("no key `list`"), "{err}");
        let err = Manifest::read(&dir.path().join("bad.json"), None).unwrap_err().to_string();
        assert!(err.contains("bad.json:2:") && err.contains("not a valid JSON manifest"), "{err}");
        let err = Manifest::read(&dir.path().join("num.json"), None).unwrap_err().to_string();
        assert!(err.contains("not a file name"), "{err}");
        let err = Manifest::read(&dir.path().join("dup.txt"), None).unwrap_err().to_string();
        assert!(err.contains("dup.txt:3:1") && err.contains("a.sql twice (first on line 1)"), "{err}");
    }
}
