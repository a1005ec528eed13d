//! The error that ends a recmon command, with the exit code it maps to (1: failure, 2: usage,
//! 130: interrupted). Every mode returns it; `main` prints it and exits with its code.

use std::fmt;

/// An error that ends recmon, with the exit code it maps to.
#[derive(Debug)]
pub struct AppError {
    /// What to tell the user: what happened, and what to do.
    pub message: String,
    /// Process exit code.
    pub code: i32,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl AppError {
    /// An error with its exit code (1: failure, 2: usage).
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        AppError {
            message: message.into(),
            code,
        }
    }
}
