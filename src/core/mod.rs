//! The core pipeline, below the listener and above nothing but the domain types:
//! [`sequencer`] (one thread: decide, journal, apply, publish) → [`journal`] (the file) →
//! [`store`] (the one place state changes) → [`feed`] (every committed entry, in order, for
//! subscribers). [`outbox`] is what the journal says about forwarding. [`rebuild`] reads a journal back into a store; [`dedup`] decides duplicates; [`alerts`] are rules over the store and a clock.

pub mod alerts;
pub mod checks;
pub mod dedup;
pub mod feed;
pub mod journal;
pub mod outbox;
pub mod rebuild;
pub mod reconciled;
pub mod sequencer;
pub mod store;
pub mod time;
