//! The attaching side of the receiver/view split: a view that is not in the receiver's process
//! follows one or more receivers' `GET /api/events` feeds over HTTP(S) and sees the same ordered
//! journal entries a local view gets from the feed, resuming with `Last-Event-ID` across cut
//! connections and receiver restarts so that nothing is missed or counted twice.

pub mod feed_client;
