//! Providers: each turns its HTTP requests into the domain events of [`crate::event`], purely
//! (no I/O, no clock, no shared state). ApsaraVideo Live ([`aliyun`]) is the one spoken today.

pub mod aliyun;
