//! The one place an outcome becomes an exit code (the README's table): a status by
//! [`Status::exit_code`], an error by its kind's [`ErrorKind::exit_code`], and any panic, even
//! one a thread recovered from, by [`ErrorKind::Internal`].

use std::process::ExitCode;

use pgconverge::{Error, ErrorKind, Status};

/// How a command writes an error besides the `error: ...` line on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// Nothing on stdout.
    Human,
    /// `{"status": "error", "error": "<kind>", "message": "...", "exit_code": N}` on stdout.
    Json,
}

/// Writes the error (if any) and returns the exit code.
pub fn finish(outcome: Result<Status, Error>, style: ErrorStyle) -> ExitCode {
    let code = match outcome {
        Ok(status) => status.exit_code(),
        Err(error) => {
            report_error(&error, style);
            error.kind().exit_code()
        }
    };
    if super::panic::happened() {
        return ExitCode::from(ErrorKind::Internal.exit_code());
    }
    ExitCode::from(code)
}

fn report_error(error: &Error, style: ErrorStyle) {
    let kind = error.kind();
    match style {
        ErrorStyle::Json => {
            let value = serde_json::json!({
                "status": "error",
                "error": kind.name(),
                "message": error.to_string(),
                "exit_code": kind.exit_code(),
            });
            println!("{}", serde_json::to_string_pretty(&value).expect("serializable"));
        }
        ErrorStyle::Human => {}
    }
    // The panic hook already wrote a bug's message, and Ctrl-C already said "interrupted".
    if !matches!(kind, ErrorKind::Internal | ErrorKind::Interrupted) {
        eprintln!("error: {error}");
    }
}
