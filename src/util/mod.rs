//! Small leaf helpers used everywhere: numbers for people ([`human`]), inert text
//! ([`sanitize`]), writing to stdout/stderr safely ([`output`]), progress bars ([`progress`]).

pub mod human;
pub mod output;
pub mod progress;
pub mod sanitize;
