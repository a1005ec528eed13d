//! Small leaf helpers used everywhere: numbers for people ([`human`]), inert text
//! ([`sanitize`]), writing to stdout/stderr safely ([`output`]), progress bars ([`progress`]), the outgoing HTTP(S) client's parts ([`http_client`]).

pub mod http_client;
pub mod human;
pub mod output;
pub mod progress;
pub mod sanitize;
