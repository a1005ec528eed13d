//! Recording proof: check a recording against the file itself (issue 22's groundwork).
//!
//! - [`media`]: pure (no I/O, no clock): given a [`media::RangeSource`] (byte ranges of a file
//!   of known size), [`media::probe`] tells the container, the measured duration, the first
//!   and last timestamps and whether there is audio and video, reading only what it needs;
//! - [`verdict`]: pure: a probe (or the reason it could not be made) and the duration the
//!   callback claimed become one [`verdict::Verdict`];
//! - [`location`]: the `--verify RULE` and `--verify-path-map FROM=TO` values, and which rule
//!   (and so which store and which key) a recording is checked at;
//! - [`reader`]: the [`media::RangeSource`] on Apache OpenDAL (OSS, COS, S3, local files,
//!   HTTP), credentials from the standard environment variables only.
//!
//! ```no_run
//! # async fn run() {
//! use recmon::event::Provider;
//! use recmon::verify::{location::Rules, media, reader, verdict};
//!
//! let rules = Rules::parse(&["srs=local".to_string()], &[]).unwrap();
//! let creds = reader::Credentials::from_env();
//! let loc = rules.for_file(Provider::Srs, "example.com").unwrap();
//! let target = loc.target("/data/live/s.flv", rules.path_maps()).unwrap();
//! let result = match reader::open(&target, &creds, reader::DEFAULT_TIMEOUT).await {
//!     Ok(mut src) => media::probe(&mut src, &target.path).await,
//!     Err(e) => Err(e),
//! };
//! let v = verdict::judge(&result, Some(3600.0), verdict::Expect::default());
//! println!("{v}");
//! # }
//! ```

pub mod location;
pub mod media;
pub mod reader;
pub mod verdict;
