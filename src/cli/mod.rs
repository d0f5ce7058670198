//! The verbs of the `pgconverge` command, one file each, on the library's public API. Each verb
//! prints its own output and returns the status it decided or the error that stopped it;
//! [`exit`] turns that into the exit code.

pub mod check;
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod dump;
pub mod exit;
pub mod fuzz;
pub mod init;
pub mod outputs;
pub mod panic;
pub mod reap;
pub mod signals;
