//! `recmon simulate` and the `--demo` driver, in a module directory: see `model.rs`.

mod model;

pub use model::*;
