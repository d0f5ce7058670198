//! The paths of `pgconverge.toml` stay inside the project directory: a config that names
//! `/etc/passwd` as its reference, `../../secret.sql` as a setup file, or a symlink that leads
//! out would have pgconverge read, run and quote files the project does not hold. Allowed with
//! `allow_paths_outside_project = true` (monorepos whose shared SQL lives above the project).

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::migration::location_at;
use crate::project::config::ConfigError;
use crate::project::DEFAULT_MIGRATIONS_DIR;

/// The path keys of `pgconverge.toml`, with where their values are written.
#[derive(Deserialize)]
struct PathKeys {
    migrations: Option<Spanned<PathBuf>>,
    reference: Option<Spanned<PathBuf>>,
    manifest: Option<Spanned<PathBuf>>,
    #[serde(default)]
    setup: Vec<Spanned<PathBuf>>,
    command: Option<CommandPathKeys>,
}

#[derive(Deserialize)]
struct CommandPathKeys {
    workdir: Option<Spanned<PathBuf>>,
}

/// Every path key of `text` (the config at `config_path`, already parsed as a config) resolves
/// inside `project_dir`; the first that does not is an error at its value's line and column.
pub(crate) fn check(project_dir: &Path, config_path: &Path, text: &str) -> Result<(), ConfigError> {
    let keys: PathKeys = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        location: location_at(config_path, text, e.span().map_or(0, |s| s.start)),
        message: e.message().to_string(),
    })?;
    let root = std::fs::canonicalize(project_dir).map_err(|source| ConfigError::Io { path: project_dir.to_path_buf(), source })?;
    let migrations = keys.migrations.as_ref().map_or(Path::new(DEFAULT_MIGRATIONS_DIR), |m| m.get_ref());
    let mut checked: Vec<(&str, &Spanned<PathBuf>, PathBuf)> = Vec::new();
    for (key, value) in [("migrations", &keys.migrations), ("reference", &keys.reference)] {
        checked.extend(value.iter().map(|v| (key, v, resolve(&root, v.get_ref()))));
    }
    // The manifest is a file name in the migrations directory (and in each version directory, below it).
    checked.extend(keys.manifest.iter().map(|v| ("manifest", v, resolve(&root, &migrations.join(v.get_ref())))));
    checked.extend(keys.setup.iter().map(|v| ("setup", v, resolve(&root, v.get_ref()))));
    let workdir = keys.command.as_ref().and_then(|c| c.workdir.as_ref());
    checked.extend(workdir.map(|v| ("command.workdir", v, resolve(&root, v.get_ref()))));
    match checked.into_iter().find(|(_, _, resolved)| !resolved.starts_with(&root)) {
        None => Ok(()),
        Some((key, value, resolved)) => Err(outside(config_path, text, key, value, &resolved)),
    }
}

fn outside(config_path: &Path, text: &str, key: &str, value: &Spanned<PathBuf>, resolved: &Path) -> ConfigError {
    let written = value.get_ref();
    let leads_to =
        if written.is_absolute() && written == resolved { String::new() } else { format!(" (it leads to {})", resolved.display()) };
    ConfigError::Invalid {
        location: location_at(config_path, text, value.span().start),
        message: format!(
            "`{key}` = {:?} is outside the project directory{leads_to}; pgconverge reads only files inside it, unless the top \
             level of pgconverge.toml sets `allow_paths_outside_project = true`",
            written.display().to_string(),
        ),
    }
}

/// `path` (relative to `root`, a canonical directory, unless absolute) as the file system resolves
/// it: each component that exists is resolved (symlinks followed, `..` taken after that), the
/// rest, which does not exist yet, lexically.
fn resolve(root: &Path, path: &Path) -> PathBuf {
    let mut resolved = root.to_path_buf();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => resolved = PathBuf::from(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                resolved.push(name);
                if let Ok(real) = std::fs::canonicalize(&resolved) {
                    resolved = real;
                }
            }
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(dir: &Path, text: &str) -> Result<(), String> {
        check(dir, &dir.join("pgconverge.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn paths_inside_the_project_pass() {
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(project.path().join("db/migrate")).unwrap();
        let text = "migrations = \"db/migrate\"\nreference = \"./db/../db/structure.sql\"\nsetup = [\"roles.sql\"]\nmanifest = \
                    \"order.json\"\n[command]\nup = \"x\"\nworkdir = \"db\"\n";
        assert_eq!(checked(project.path(), text), Ok(()));
        let absolute = format!("reference = {:?}", project.path().join("schema.sql").display().to_string());
        assert_eq!(checked(project.path(), &absolute), Ok(()));
    }

    #[test]
    fn each_path_key_is_confined_at_its_value() {
        let project = tempfile::tempdir().unwrap();
        for (text, at) in [
            ("reference = \"/etc/passwd\"", "pgconverge.toml:1:13"),
            ("format = \"sqlx\"\nmigrations = \"../elsewhere\"", "pgconverge.toml:2:14"),
            ("setup = [\"roles.sql\", \"../../secret.sql\"]", "pgconverge.toml:1:23"),
            ("manifest = \"../../order.json\"", "pgconverge.toml:1:12"),
            ("runner = \"command\"\n[command]\nup = \"x\"\nworkdir = \"/\"", "pgconverge.toml:4:11"),
        ] {
            let message = checked(project.path(), text).unwrap_err();
            assert!(message.contains(at) && message.contains("outside the project directory"), "{text}: {message}");
            assert!(message.contains("allow_paths_outside_project = true"), "{message}");
        }
    }

    #[test]
    fn a_symlink_that_leads_out_is_outside() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.sql"), "SELECT 1;").unwrap();
        let project = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), project.path().join("shared")).unwrap();
        let message = checked(project.path(), "reference = \"shared/secret.sql\"").unwrap_err();
        assert!(message.contains("outside the project directory (it leads to "), "{message}");
        // `..` is taken after the symlink, as the kernel takes it: `shared/..` is outside's parent.
        std::fs::create_dir(project.path().join("inside")).unwrap();
        assert!(checked(project.path(), "reference = \"shared/../inside/s.sql\"").is_err());
        assert_eq!(checked(project.path(), "reference = \"inside/../inside/s.sql\""), Ok(()));
    }
}
