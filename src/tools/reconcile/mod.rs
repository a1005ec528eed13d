//! `recmon reconcile`: what the providers' own records say that the journal does not.
//!
//! - [`findings`]: the comparison, pure.
//! - the command (this file): reads the journal, asks the providers' APIs
//!   ([`crate::reconcile`]) for the window, and prints the findings.

pub mod findings;
