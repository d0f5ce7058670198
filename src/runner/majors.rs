//! Server binaries of a chosen major version: an installed PostgreSQL when there is one, else
//! real server binaries fetched from a PyPI wheel by `scripts/fetch-postgres` into the cache
//! (`PGCONVERGE_CACHE`, default `$HOME/.cache/pgconverge`).
//!
//! The cache holds `postgres-<major>/BIN_DIR` (the bin directory to use: in the cache, or, when
//! root's server user cannot enter the cache, a world-readable copy under
//! `PGCONVERGE_SHARED_CACHE`, default `/var/cache/pgconverge`) and, only if the binaries need it,
//! `postgres-<major>/LD_LIBRARY_PATH` (one directory a line), which becomes
//! [`ServerBinaries::lib_dirs`] and so the server's `LD_LIBRARY_PATH`.
//!
//! These functions run commands and wait for them: from async code, call them through
//! `tokio::task::spawn_blocking`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::embedded::{find_server_binaries, probe_bin_dir_with, ServerBinaries};
use super::scripts::ScriptDir;
use super::RunnerError;

/// Majors `scripts/fetch-postgres` knows a wheel for (others need `PGCONVERGE_PG_WHEEL`).
pub(crate) const FETCHABLE_MAJORS: [u32; 2] = [16, 18];

/// How long a fetch (download and unpack) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// Server binaries of major version `major`: installed ones (`PGCONVERGE_PG_BIN`, else `PATH`,
/// `/usr/lib/postgresql/*/bin`, `pg_config --bindir`), else the cache, else
/// fetched now with `scripts/fetch-postgres` (unless `PGCONVERGE_NO_FETCH` is set).
pub fn find_major(major: u32) -> Result<ServerBinaries, RunnerError> {
    if let Some(binaries) = installed_major(major) {
        return Ok(binaries);
    }
    if let Some(binaries) = cached_major(major) {
        return Ok(binaries);
    }
    let searched = format!(
        "PostgreSQL {major}: PATH, /usr/lib/postgresql/*/bin, pg_config --bindir, PGCONVERGE_PG_BIN, {}",
        cache_dir().map_or("no cache directory (HOME unset)".to_string(), |d| d.join(format!("postgres-{major}")).display().to_string())
    );
    if std::env::var_os("PGCONVERGE_NO_FETCH").is_some() {
        return Err(RunnerError::NoServerBinaries { searched: format!("{searched}; PGCONVERGE_NO_FETCH is set") });
    }
    fetch_major(major)
}

/// Installed server binaries of `major`, if any.
pub(crate) fn installed_major(major: u32) -> Option<ServerBinaries> {
    find_server_binaries().ok()?.into_iter().find(|b| b.major == major)
}

/// The cache directory: `PGCONVERGE_CACHE`, else `$HOME/.cache/pgconverge`.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PGCONVERGE_CACHE").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| PathBuf::from(home).join(".cache/pgconverge"))
}

/// Binaries of `major` fetched earlier (`postgres-<major>/BIN_DIR` in the cache), if they still run.
pub(crate) fn cached_major(major: u32) -> Option<ServerBinaries> {
    let entry = cache_dir()?.join(format!("postgres-{major}"));
    probe_cache_entry(&entry).filter(|b| b.major == major)
}

/// Every major fetched into the cache, oldest major first.
pub(crate) fn fetched_majors() -> Vec<ServerBinaries> {
    let Some(cache) = cache_dir() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&cache) else { return Vec::new() };
    let mut found: Vec<ServerBinaries> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("postgres-").is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| probe_cache_entry(&e.path()))
        .collect();
    found.sort_by_key(|b| b.major);
    found
}

fn probe_cache_entry(entry: &Path) -> Option<ServerBinaries> {
    let bin_dir = PathBuf::from(std::fs::read_to_string(entry.join("BIN_DIR")).ok()?.trim());
    let lib_dirs: Vec<PathBuf> = std::fs::read_to_string(entry.join("LD_LIBRARY_PATH"))
        .map(|text| text.lines().map(str::trim).filter(|l| !l.is_empty()).map(PathBuf::from).collect())
        .unwrap_or_default();
    probe_bin_dir_with(&bin_dir, &lib_dirs)
}

/// Runs `scripts/fetch-postgres <major>` (a download from PyPI the first time; the cache after).
pub(crate) fn fetch_major(major: u32) -> Result<ServerBinaries, RunnerError> {
    let scripts = ScriptDir::write()?;
    let mut command = Command::new(scripts.path("fetch-postgres"));
    command.arg(major.to_string());
    let output = run_with_timeout(command, FETCH_TIMEOUT, &format!("scripts/fetch-postgres {major}"))?;
    if !output.status.success() {
        return Err(RunnerError::ProgramFailed {
            program: format!("scripts/fetch-postgres {major}"),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    if let Some(binaries) = cached_major(major) {
        return Ok(binaries);
    }
    // No cache entry (PGCONVERGE_CACHE changed under us?): use what the script printed.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let bin_dir = stdout.lines().last().map(str::trim).unwrap_or_default();
    probe_bin_dir_with(Path::new(bin_dir), &[]).filter(|b| b.major == major).ok_or_else(|| RunnerError::ProgramIneffective {
        program: format!("scripts/fetch-postgres {major}"),
        problem: format!("it printed `{bin_dir}`, which holds no runnable PostgreSQL {major}"),
    })
}

/// Runs `command` to completion with its stdout and stderr captured, killing its whole process
/// group if it takes longer than `timeout`.
pub(crate) fn run_with_timeout(command: Command, timeout: Duration, what: &str) -> Result<Output, RunnerError> {
    crate::process::output_within(command, timeout).map_err(|source| match source.kind() {
        std::io::ErrorKind::TimedOut => RunnerError::Timeout(timeout, what.to_string()),
        _ => RunnerError::Spawn { program: what.to_string(), source },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_with_timeout_kills_a_slow_command() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 5"]);
        let started = std::time::Instant::now();
        let result = run_with_timeout(command, Duration::from_millis(200), "sleep");
        assert!(matches!(result, Err(RunnerError::Timeout(..))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn run_with_timeout_captures_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let output = run_with_timeout(command, Duration::from_secs(10), "sh").expect("runs");
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "out\n");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "err\n");
    }
}
