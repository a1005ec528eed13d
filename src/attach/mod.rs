//! Following one or more receivers' `/api/events` feeds.
