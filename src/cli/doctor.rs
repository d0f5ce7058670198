//! `pgconverge doctor`: which backends and majors are usable here, and why the others are not.

use clap::ValueEnum;
use pgconverge::Status;

use super::exit::ErrorStyle;

#[derive(clap::Args)]
pub struct DoctorArgs {
    #[arg(long, value_enum, default_value_t = DoctorFormat::Human)]
    pub format: DoctorFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DoctorFormat {
    Human,
    Json,
}

impl DoctorArgs {
    pub fn error_style(&self) -> ErrorStyle {
        match self.format {
            DoctorFormat::Human => ErrorStyle::Human,
            DoctorFormat::Json => ErrorStyle::Json,
        }
    }

    pub async fn run(self) -> Status {
        let report = pgconverge::runner::doctor::doctor().await;
        match self.format {
            DoctorFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("serializable")),
            DoctorFormat::Human => print!("{report}"),
        }
        Status::Converges
    }
}
