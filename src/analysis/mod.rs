//! What the migrations' SQL says before anything runs: each statement's footprint (what it
//! creates, changes, drops and references), the dependency graph between migrations, and the
//! reference schema's units (what may pre-exist in a start state).

pub(crate) mod deps;
pub(crate) mod footprint;
pub(crate) mod reference_units;
pub(crate) mod shared_catalogs;
