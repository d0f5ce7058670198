//! The README's library snippet works in a crate of someone else's. A throwaway crate depends on
//! pgconverge by path, with `default-features = false` as the README's Cargo features section
//! offers, holds the snippet as its `tests/migrations.rs` (a sync `#[test]` and a
//! `#[tokio::test]`), and `cargo test` runs in it: against the flagship fixture it passes, and
//! against a planted bug both tests fail with the human report.
//!
//! The crate builds in `target/tmp/dependent-crate` (its own dependencies, without debug info):
//! about 6 minutes of CPU cold, seconds warm.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const SNIPPET: &str = include_str!("data/dependent_crate/migrations.rs");

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A crate whose `db/` is a copy of `fixture`, with the snippet as its test.
fn dependent_crate(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(repository().join("tests/data/dependent_crate/Cargo.toml.in")).unwrap();
    let manifest = manifest.replace("@PGCONVERGE@", repository().to_str().unwrap());
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    // pgconverge's own lock file pins the versions its tests were run with; cargo adds the
    // throwaway crate's entry.
    std::fs::copy(repository().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/migrations.rs"), SNIPPET).unwrap();
    common::copy_dir(&repository().join(fixture), &dir.path().join("db"));
    dir
}

struct CargoTest {
    success: bool,
    output: String,
}

/// `cargo test` in `krate`, its checks on this test process's shared server.
fn cargo_test(krate: &Path) -> CargoTest {
    let _slot = common::shared_server_slot();
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let output = Command::new(cargo)
        .args(["test", "--quiet"])
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("dependent-crate"))
        .env("PGCONVERGE_DATABASE_URL", common::shared_server_url())
        .env("PGCONVERGE_CASES", "32")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    CargoTest {
        success: output.status.success(),
        output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    }
}

#[test]
fn the_readme_snippet_is_the_tested_one() {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let block = format!("```rust\n{SNIPPET}```\n");
    assert!(readme.contains(&block), "README.md does not hold tests/data/dependent_crate/migrations.rs verbatim in a ```rust block");
}

#[test]
fn a_crate_of_its_own_runs_the_snippet_sync_and_async() {
    let converging = dependent_crate("fixtures/k12_lms");
    let run = cargo_test(converging.path());
    assert!(run.success, "cargo test in a crate on fixtures/k12_lms failed:\n{}", run.output);
    assert!(run.output.contains("2 passed"), "both tests ran:\n{}", run.output);

    // The same crate on a planted bug: both tests fail, and say why.
    let divergent = dependent_crate("fixtures/divergent/missing_index");
    let run = cargo_test(divergent.path());
    assert!(!run.success, "cargo test in a crate on fixtures/divergent/missing_index passed:\n{}", run.output);
    assert!(run.output.contains("2 failed"), "both tests failed:\n{}", run.output);
    assert!(run.output.contains("does not converge (counterexample, exit 1"), "assert_converges names the outcome:\n{}", run.output);
    assert!(run.output.contains("index"), "the human report names the missing index:\n{}", run.output);
}
