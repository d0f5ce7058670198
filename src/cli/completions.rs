//! `pgconverge completions SHELL`: the shell's completion script for every verb and option.

use clap_complete::aot::{generate, Shell};
use pgconverge::Status;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

impl CompletionsArgs {
    /// Prints the script for `command`, the whole `pgconverge` command line.
    pub fn run(self, mut command: clap::Command) -> Status {
        generate(self.shell, &mut command, "pgconverge", &mut std::io::stdout());
        Status::Converges
    }
}
