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

/// The more severe of two outcomes, for a command that runs several checks (`fuzz`): a
/// counterexample (1), then could not decide (3), an input error (2), nondeterminism (4),
/// converges (0); an interruption or a bug above all. The first wins a tie.
pub fn most_severe(first: Result<Status, Error>, second: Result<Status, Error>) -> Result<Status, Error> {
    if severity(&second) > severity(&first) {
        second
    } else {
        first
    }
}

fn severity(outcome: &Result<Status, Error>) -> u8 {
    let code = match outcome {
        Ok(status) => status.exit_code(),
        Err(error) => error.kind().exit_code(),
    };
    match code {
        0 => 0,
        4 => 1,
        2 => 2,
        3 => 3,
        1 => 4,
        _ => 5,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use pgconverge::runner::RunnerError;

    fn code(outcome: &Result<Status, Error>) -> u8 {
        match outcome {
            Ok(status) => status.exit_code(),
            Err(error) => error.kind().exit_code(),
        }
    }

    #[test]
    fn a_counterexample_is_the_most_severe_then_errors_then_nondeterminism() {
        let outcomes = || -> Vec<Result<Status, Error>> {
            vec![
                Ok(Status::Converges),
                Ok(Status::Nondeterministic),
                Err(RunnerError::MissingDatabaseUrl.into()),
                Err(RunnerError::NotReady("no connection within 1s".into(), "log".into()).into()),
                Ok(Status::Counterexample),
            ]
        };
        let worst = |outcomes: Vec<Result<Status, Error>>| code(&outcomes.into_iter().reduce(most_severe).unwrap());
        assert_eq!(worst(outcomes()), 1);
        assert_eq!(worst(outcomes().into_iter().rev().collect()), 1);
        assert_eq!(worst(outcomes().into_iter().take(4).collect()), 3);
        assert_eq!(worst(outcomes().into_iter().take(3).collect()), 2);
        assert_eq!(worst(outcomes().into_iter().take(2).collect()), 4);
        assert_eq!(worst(vec![Ok(Status::Incomplete), Err(RunnerError::MissingDatabaseUrl.into())]), 3);
        assert_eq!(worst(vec![Ok(Status::Counterexample), Err(RunnerError::Interrupted.into())]), 130);
    }
}
