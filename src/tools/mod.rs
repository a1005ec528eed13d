//! Tools built on journals and listeners: [`export`] and [`replay`] read journals,
//! [`simulate`], [`client`] and [`loadgen`] send callbacks to a listener.

pub mod client;
pub mod export;
pub mod loadgen;
pub mod reconcile;
pub mod replay;
pub mod report;
pub mod simulate;
pub mod verify;
