//! What the migrations' SQL says before anything runs: each statement's footprint (what it
//! creates, changes, drops and references), the dependency graph between migrations, the
//! reference schema's units (what may pre-exist in a start state), and whether a migration
//! looks re-entrant (its guards).

pub(crate) mod deps;
pub(crate) mod footprint;
pub(crate) mod reentrancy;
pub(crate) mod reference_units;
pub(crate) mod shared_catalogs;
