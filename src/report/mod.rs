//! Writing reports: human text, JSON, JUnit, GitHub annotations, and a run that ended in an
//! error in each. Writers return strings; the caller decides where they go.

mod findings;
mod github;
mod human;
mod junit;
mod matrix;
mod table;
mod unfinished;

pub use findings::more_findings;
pub use github::{escape_data as github_escape_data, github};
pub use human::human;
pub use junit::{junit, junit_many};
pub use matrix::Matrix;
pub use table::table;
pub use unfinished::{Stopped, Unfinished};

use std::path::Path;

use crate::migration::Location;
use crate::model::Report;
use crate::project::paths::normalize;

/// The full report as pretty JSON (the format is documented in the README).
pub(crate) fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report always serializes")
}

/// Removes ANSI color sequences (pretty_assertions always colors its diff).
pub(crate) fn strip_ansi(text: &str) -> String {
    let pattern = regex::Regex::new("\x1b\\[[0-9;]*m").expect("valid regex");
    pattern.replace_all(text, "").into_owned()
}

/// A path as the user would write it: no `/./`, no trailing `/.`.
pub(crate) fn shown(path: &Path) -> String {
    normalize(path).display().to_string()
}

/// `file:line:column`, the file as [`shown`].
pub(crate) fn location(location: &Location) -> String {
    format!("{}:{}:{}", shown(&location.file), location.line, location.column)
}
