//! The helper scripts of `scripts/` that pgconverge runs, compiled into the library: an installed
//! binary needs no source tree. Each use writes them to a private temporary directory, removed
//! when the [`ScriptDir`] is dropped; one left by a killed process (it may hold an image's build
//! context) is removed by the next [`ScriptDir::write`].

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::RunnerError;

/// `(name, text)` of every script a run may need; `build-local-image` calls `fetch-postgres`
/// from its own directory, so they are written together.
const SCRIPTS: &[(&str, &str)] = &[
    ("fetch-postgres", include_str!("../../scripts/fetch-postgres")),
    #[cfg(feature = "container")]
    ("build-local-image", include_str!("../../scripts/build-local-image")),
];

const DIR_PREFIX: &str = "pgconverge-scripts-";

/// The scripts, written out to `$TMPDIR/pgconverge-scripts-<pid>-<random>` (mode 0700, created
/// fresh: a directory someone else made is never used). Removed on drop.
#[derive(Debug)]
pub(crate) struct ScriptDir {
    dir: PathBuf,
}

impl ScriptDir {
    /// The helper scripts of `scripts/`.
    pub(crate) fn write() -> Result<ScriptDir, RunnerError> {
        ScriptDir::write_files(SCRIPTS)
    }

    /// `(name, text)` files of the caller's (a framework driver), written the same way.
    pub(crate) fn write_files(files: &[(&str, &str)]) -> Result<ScriptDir, RunnerError> {
        remove_stale();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{}", std::process::id(), super::random_suffix()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|source| RunnerError::File {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let scripts = ScriptDir { dir };
        for (name, text) in files {
            let path = scripts.dir.join(name);
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o700)
                .open(&path)
                .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
            written.map_err(|source| RunnerError::File { action: "write", path, source })?;
        }
        Ok(scripts)
    }

    /// The script `name` (`fetch-postgres`, `build-local-image`, a driver's file).
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The directory itself, for scratch files that go with the scripts.
    #[cfg_attr(not(feature = "container"), allow(dead_code))] // the local image's build context
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Removes this user's script directories whose process is gone.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(DIR_PREFIX).and_then(|rest| rest.split('-').next()?.parse::<i32>().ok()) else { continue };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        // SAFETY: signal 0 only checks for existence.
        let alive = pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
        if ours && !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_written_executable_and_removed_on_drop() {
        let scripts = ScriptDir::write().unwrap();
        let dir = scripts.dir().to_path_buf();
        let fetch = scripts.path("fetch-postgres");
        let output = std::process::Command::new(&fetch).arg("--help").output().expect("the written script runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("fetch-postgres"));
        #[cfg(feature = "container")]
        assert!(scripts.path("build-local-image").is_file());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        drop(scripts);
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }

    #[test]
    fn a_directory_left_by_a_dead_process_is_removed_by_the_next_write() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let leftover = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-test", child.id()));
        std::fs::create_dir_all(leftover.join("context")).unwrap();
        let live = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-test", std::process::id()));
        std::fs::create_dir_all(&live).unwrap();
        let scripts = ScriptDir::write().unwrap();
        let (leftover_removed, live_kept) = (!leftover.exists(), live.exists());
        let _ = std::fs::remove_dir_all(&live);
        let _ = std::fs::remove_dir_all(&leftover);
        drop(scripts);
        assert!(leftover_removed, "{} is left behind", leftover.display());
        assert!(live_kept, "a live process's directory is kept");
    }
}
