//! The properties that run whole migrations, each written once over the executor. The
//! generated ones (partial, order, interrupt) are in `explore/`.

mod fresh;
mod idempotent;
mod reversible;
