//! `pgconverge init DIR`: guess the layout and write a pgconverge.toml.

use std::path::PathBuf;

use pgconverge::{Error, Status};

#[derive(clap::Args)]
pub struct InitArgs {
    dir: PathBuf,
    /// Overwrite an existing pgconverge.toml.
    #[arg(long)]
    force: bool,
}

pub fn run(args: InitArgs) -> Result<Status, Error> {
    let outcome = pgconverge::init(&args.dir, args.force)?;
    for guess in &outcome.guesses {
        println!("{guess}");
    }
    for file in &outcome.files_written {
        println!("wrote {}", file.display());
    }
    Ok(Status::Converges)
}
