//! The `pgconverge` command: parse, run one verb (`cli/`), map its outcome to an exit code.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use cli::exit::ErrorStyle;
use cli::outputs::CheckOutputs;
use pgconverge::runner::RunnerError;
use pgconverge::{CancellationToken, Error, Status};

/// A catalog dump allocates a string per catalog value; mimalloc made the 1,000-table dump
/// about a fifth faster than glibc's allocator (see benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "pgconverge", version, about = "Proves a PostgreSQL migration set converges to its reference schema")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that DIR's migrations converge: exit 0 converges, 1 counterexample, 2 input error, 3 infrastructure error, 4 nondeterministic objects.
    Check(cli::check::CheckArgs),
    /// Rerun only the counterexamples saved under DIR/proptest-regressions (or --regressions); generate no new cases. Exit 2 when none is saved.
    Replay(cli::check::ReplayArgs),
    /// Detect DIR's layout (format, ordering, ledger, reference, placeholders, roles) and write a pgconverge.toml.
    Init(cli::init::InitArgs),
    /// Remove what killed runs left behind: labelled containers and embedded cluster directories whose owner is gone; with --database-url, that server's pgconverge_* databases and roles whose owner is gone.
    Reap(cli::reap::ReapArgs),
    /// Show which backends and PostgreSQL majors are usable here, and why the others are not.
    Doctor(cli::doctor::DoctorArgs),
    /// Print the canonical catalog of DIR's reference or migrations, or of an existing database.
    Dump(cli::dump::DumpArgs),
    /// Compare two catalogs: each a JSON dump (`dump --format json`) or a project directory. Exit 0 equal, 1 different.
    Diff(cli::diff::DiffArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(cli::completions::CompletionsArgs),
    /// Check each DIR with many cases (default 2000) within --budget seconds, a JSON report per DIR in --out: exit 1 when any has a counterexample, else 3 or 2 on an error; a DIR the budget cut short is not a verdict.
    Fuzz(cli::fuzz::FuzzArgs),
}

impl Command {
    /// How this command writes an error: in the format its output was asked in.
    fn error_style(&self) -> ErrorStyle {
        match self {
            Command::Check(args) => args.error_style(),
            Command::Replay(args) => args.check.error_style(),
            Command::Doctor(args) => args.error_style(),
            Command::Dump(args) => args.error_style(),
            Command::Diff(args) => args.error_style(),
            Command::Init(_) | Command::Reap(_) | Command::Completions(_) | Command::Fuzz(_) => ErrorStyle::Human,
        }
    }

    /// Where `check` and `replay` write their outcome (the other commands print their own).
    fn outputs(&self) -> Option<CheckOutputs> {
        match self {
            Command::Check(args) => Some(args.outputs()),
            Command::Replay(args) => Some(args.check.outputs()),
            _ => None,
        }
    }

    async fn run(self, cancel: CancellationToken) -> Result<Status, Error> {
        if cli::panic::test_panic_requested() {
            panic!("PGCONVERGE_TEST_PANIC=1 asked for a panic");
        }
        match self {
            Command::Check(args) => args.run(false, cancel).await,
            Command::Replay(args) => args.run(cancel).await,
            Command::Init(args) => cli::init::run(args),
            Command::Reap(args) => args.run().await,
            Command::Doctor(args) => Ok(args.run().await),
            Command::Dump(args) => args.run().await,
            Command::Diff(args) => args.run().await,
            Command::Completions(args) => Ok(args.run(Cli::command())),
            Command::Fuzz(args) => args.run(cancel).await,
        }
    }
}

fn main() -> ExitCode {
    cli::panic::install_hook();
    let command = Cli::parse().command;
    let style = command.error_style();
    let outputs = command.outputs();
    // A report file that cannot be written is refused before anything runs.
    let outcome = match outputs.as_ref().map_or(Ok(()), CheckOutputs::check_paths) {
        Ok(()) => run(command),
        Err(error) => Err(error),
    };
    // Written once the command has ended, however it ended (an interrupted check included).
    let outcome = match outputs {
        Some(outputs) => outputs.write(outcome),
        None => outcome,
    };
    cli::exit::finish(outcome, style)
}

fn run(command: Command) -> Result<Status, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| RunnerError::Runtime { purpose: "the async runtime", source })?;
    let outcome = runtime.block_on(async {
        let cancel = CancellationToken::new();
        // On a worker thread, so that a signal is seen even while the case runners block theirs.
        let mut task = tokio::spawn(command.run(cancel.clone()));
        tokio::select! {
            joined = &mut task => joined.unwrap_or_else(|_| Err(Error::Panicked { task: "the command".into() })),
            signal = cli::signals::termination() => {
                eprintln!("interrupted ({signal}): cleaning up");
                // A check stops at its next step or case and drops what it made; any other
                // command is aborted at its next await, and dropping it unwinds the guards:
                // scratch databases, clusters, containers.
                cancel.cancel();
                if tokio::time::timeout(std::time::Duration::from_secs(15), &mut task).await.is_err() {
                    task.abort();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), task).await;
                }
                Err(RunnerError::Interrupted.into())
            }
        }
    });
    drop(runtime);
    outcome
}
