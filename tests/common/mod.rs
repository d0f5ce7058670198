//! Shared helpers for the integration tests: running the CLI and reading fixture expectations.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `pgconverge` binary with `args`, from the package root.
pub fn pgconverge(args: &[&str]) -> CliRun {
    pgconverge_env(args, &[])
}

pub fn pgconverge_env(args: &[&str], env: &[(&str, &str)]) -> CliRun {
    let output = Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PGCONVERGE_DATABASE_URL")
        // The CLI's `auto` picks a container when a local image exists; these tests mean the
        // embedded backend (tests/container.rs covers containers).
        .env("PGCONVERGE_BACKEND", "embedded")
        .envs(env.iter().copied())
        .output()
        .expect("the pgconverge binary runs");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The fixtures that must converge under every property (`tests/fixtures_cli.rs`), and against
/// a `pg_dump --schema-only` of their own migrated database (`tests/pg_dump_reference.rs`).
pub const CONVERGING_FIXTURES: &[&str] = &[
    "fixtures/k12_lms",
    "fixtures/spelling_variants",
    "fixtures/column_order_relaxed",
    "fixtures/branches",
    "fixtures/reversible",
    "fixtures/concurrent_resumable",
    "fixtures/grants_in_another_order",
    "fixtures/policy_roles_in_another_order",
    "fixtures/pg_dump_varchar_in",
    "fixtures/pg_dump_round_trip",
    "fixtures/manifest_unlisted",
    "fixtures/in_order_only",
    "fixtures/column_dependencies",
    "fixtures/renames_and_data",
];

/// The case directories under `fixtures/<group>`, sorted (relative to the package root).
pub fn fixture_cases(group: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(group);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture group exists")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| Path::new("fixtures").join(group).join(e.file_name()))
        .collect();
    cases.sort();
    cases
}

/// A case's `expect.toml`.
pub fn expectation(case: &Path) -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(case).join("expect.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn expected_str<'a>(table: &'a toml::Table, key: &str) -> Option<&'a str> {
    table.get(key).and_then(|v| v.as_str())
}

/// A copy of a fixture directory, in a temporary directory (to vary its config or reference).
pub fn copy_of(fixture: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(fixture, dir.path());
    dir
}
