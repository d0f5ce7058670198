//! Where `check` and `replay` write what they found: the chosen `--format` on stdout, the
//! `--junit` and `--json` files, and GitHub annotations under GitHub Actions. All of it is
//! written once the command has ended, whatever it ended with (a report, an error, an
//! interruption), and holds every finding the run had made: a CI job always gets its files.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pgconverge::model::{Report, Verdict};
use pgconverge::report::{Matrix, Stopped, Unfinished};
use pgconverge::{Error, Status};

use super::check::CheckFormat;

/// What a run has found so far, shared by the running check and [`CheckOutputs::write`] (which
/// may run after the check was cut off).
#[derive(Clone, Default)]
pub struct Found(Arc<Mutex<FoundSoFar>>);

#[derive(Default)]
struct FoundSoFar {
    /// The reports of the majors that finished.
    reports: Vec<Report>,
    /// The verdicts decided on the major under way.
    verdicts: Vec<Verdict>,
}

impl Found {
    /// A verdict decided on the major under way.
    pub fn verdict(&self, verdict: &Verdict) {
        self.lock().verdicts.push(verdict.clone());
    }

    /// A major finished: its report holds the verdicts collected for it.
    pub fn report(&self, report: Report) {
        let mut found = self.lock();
        found.verdicts.clear();
        found.reports.push(report);
    }

    /// The most severe status of the finished reports.
    pub fn status(&self) -> Status {
        Matrix { reports: self.lock().reports.clone() }.status()
    }

    fn take(&self) -> FoundSoFar {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FoundSoFar> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Everything `check` and `replay` write besides stderr.
pub struct CheckOutputs {
    pub format: CheckFormat,
    pub color: bool,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// GitHub annotations after the human report (under GitHub Actions, unless opted out).
    pub annotations: bool,
    pub project: PathBuf,
    pub found: Found,
}

impl CheckOutputs {
    /// An input error when a report file cannot be written where it was asked, found before
    /// the check runs rather than after it.
    pub fn check_paths(&self) -> Result<(), Error> {
        self.files().try_for_each(check_path)
    }

    /// Writes the outcome: the chosen format on stdout (a run that ended in an error, with what
    /// it had found), then the annotations, then the files. A file that cannot be written turns
    /// a decided outcome into that error.
    pub fn write(self, outcome: Result<Status, Error>) -> Result<Status, Error> {
        let found = self.found.take();
        let stopped = outcome.as_ref().err().map(|error| Stopped {
            kind: error.kind().name().to_string(),
            message: error.to_string(),
            exit_code: error.kind().exit_code(),
        });
        let matrix = Matrix { reports: found.reports };
        let unfinished = stopped.as_ref().map(|stopped| Unfinished {
            project: &self.project,
            reports: &matrix.reports,
            verdicts: &found.verdicts,
            stopped,
        });
        let human = || unfinished.map_or_else(|| matrix.human(self.color), |u| u.human(self.color));
        let junit = || unfinished.map_or_else(|| matrix.junit(), |u| u.junit());
        let json = || unfinished.map_or_else(|| matrix.json() + "\n", |u| u.json() + "\n");
        let github = || unfinished.map_or_else(|| matrix.github(), |u| u.github());
        let mut stdout = match self.format {
            CheckFormat::Human => human(),
            CheckFormat::Json => json(),
            CheckFormat::Junit => junit(),
            CheckFormat::Github => github(),
        };
        // Only after the human report: JSON or JUnit on stdout stays one document.
        if self.annotations && matches!(self.format, CheckFormat::Human) {
            stdout.push_str(&github());
        }
        print!("{stdout}");
        let _ = std::io::stdout().flush();
        let mut outcome = outcome;
        let files = self.junit.iter().map(|path| (path, junit())).chain(self.json.iter().map(|path| (path, json())));
        for (path, text) in files {
            let Err(error) = write_atomically(path, &text) else { continue };
            match &outcome {
                Ok(_) => outcome = Err(error),
                // A path refused before the check ran is the outcome's error already.
                Err(_) if check_path(path).is_err() => {}
                Err(_) => eprintln!("error: {error}"),
            }
        }
        outcome
    }

    fn files(&self) -> impl Iterator<Item = &Path> {
        self.junit.iter().chain(&self.json).map(PathBuf::as_path)
    }
}

/// Whether a new file can be written at `path`: its directory exists and takes a new file (one
/// is made and removed), and `path` is not a directory.
fn check_path(path: &Path) -> Result<(), Error> {
    let refuse = |problem: String| Error::ReportPath { path: path.to_path_buf(), problem };
    if path.is_dir() {
        return Err(refuse("it is a directory".into()));
    }
    let dir = directory_of(path);
    if !dir.is_dir() {
        return Err(refuse(format!("the directory {} does not exist", dir.display())));
    }
    let probe = temporary_path(path);
    std::fs::File::create_new(&probe).map_err(|e| refuse(format!("cannot create a file in {}: {e}", dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader sees
/// the old file or the whole new one, never a part.
fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let temporary = temporary_path(path);
    let written = std::fs::File::create_new(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    renamed.map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        Error::WriteReport { path: path.to_path_buf(), source }
    })
}

/// The directory a file goes in (`.` for a bare file name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `<dir>/.<name>.<pid>.tmp`: hidden, in the file's own directory (a rename does not cross file
/// systems), and this process's own.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    directory_of(path).join(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_or_a_directory_is_refused_and_a_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/junit.xml");
        let error = check_path(&missing).unwrap_err();
        assert_eq!(error.kind(), pgconverge::ErrorKind::Input);
        assert!(error.to_string().contains("no/such/dir does not exist"), "{error}");
        assert!(check_path(dir.path()).unwrap_err().to_string().contains("it is a directory"));

        let file = dir.path().join("report.json");
        check_path(&file).unwrap();
        write_atomically(&file, "first").unwrap();
        write_atomically(&file, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["report.json"], "no temporary file is left behind");
    }
}
