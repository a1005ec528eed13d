//! Reconciling with the providers' own records (`recmon reconcile`): the clients of their
//! record-keeping OpenAPIs. Below the core: it imports `util`, `event` and `error` only.
//!
//! - [`sign`]: ACS3-HMAC-SHA256 and TC3-HMAC-SHA256, pure, byte for byte the SDKs' signatures.
//! - [`window`]: pure planning: a window clipped to the provider's history and split into the
//!   spans an action allows (pieces share their boundaries; a record on one counts once), paging;
//! - [`transport`]: the HTTP(S) client (a timeout per request, the answer's size capped), the
//!   per-action rate limiter, the retry backoff, capped untrusted text for the answers' structs;
//! - [`error`]: [`ReconcileError`], typed, in words that never hold a secret;
//! - [`aliyun`]: ApsaraVideo Live (2016-11-01): notify records, index files, notify config;
//! - [`tencent`]: Tencent Cloud CSS (2018-08-01): callback records.
//!
//! Both providers' listings go through the one pager, [`page_all`]: every page of every piece
//! of the window, each request through the client's own signed, throttled and retried call.

pub mod aliyun;
pub mod error;
pub mod sign;
pub mod tencent;
pub mod transport;
pub mod window;

use chrono::{DateTime, Utc};
pub use error::ReconcileError;
use window::{Clipped, Plan, Window};

/// How one listing action pages: its documented limits, and the client's cap on records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paging {
    /// Records per page asked for.
    pub(crate) page_size: u32,
    /// The highest page number the action takes.
    pub(crate) max_page: u32,
    /// Records kept at most (the client's `max_records`); beyond it the listing stops,
    /// `truncated`.
    pub(crate) max_records: usize,
}

/// One page of a listing as the provider answered it.
pub(crate) struct Page<T> {
    /// Its records.
    pub(crate) items: Vec<T>,
    /// The total the provider reported, if it did.
    pub(crate) total_num: Option<i64>,
    /// Its page count, if it said.
    pub(crate) total_page: Option<i64>,
}

/// The pager both providers' listings use: every page of every piece of a listing's plan,
/// in order. The client asks [`Pager::next`] which piece and page to fetch, fetches it with
/// its own call (signed, paced, retried on throttling), and hands the page to
/// [`Pager::take`]: a record on a boundary that the previous piece already returned is
/// counted once, a short or empty page, the reported totals or `max_page` end a piece, and
/// `max_records` ends the listing (`truncated`).
pub(crate) struct Pager {
    pieces: Vec<Window>,
    paging: Paging,
    piece: usize,
    page: u32,
}

impl Pager {
    /// A pager over `plan`'s pieces.
    pub(crate) fn new(plan: &Plan, paging: Paging) -> Pager {
        Pager {
            pieces: plan.pieces.clone(),
            paging,
            piece: 0,
            page: 1,
        }
    }

    /// The piece and page to fetch next, or `None` when the listing is done.
    pub(crate) fn next(&self) -> Option<(Window, u32)> {
        self.pieces.get(self.piece).map(|w| (*w, self.page))
    }

    /// Takes the page just fetched into `out` (`at` is a record's time).
    pub(crate) fn take<T>(
        &mut self,
        out: &mut Fetched<T>,
        page: Page<T>,
        at: impl Fn(&T) -> Option<DateTime<Utc>>,
    ) {
        let got = page.items.len();
        for r in page.items {
            if window::seen_in_previous_piece(&self.pieces, self.piece, at(&r)) {
                continue;
            }
            if out.items.len() >= self.paging.max_records {
                out.truncated = true;
                self.piece = self.pieces.len();
                return;
            }
            out.items.push(r);
        }
        match window::next_page(
            self.page,
            self.paging.page_size,
            got,
            page.total_num.map(|n| n.max(0) as u64),
            page.total_page.map(|n| n.max(0) as u64),
            self.paging.max_page,
        ) {
            Some(next) => self.page = next,
            None => {
                self.piece += 1;
                self.page = 1;
            }
        }
    }
}

/// What a listing call returns: the records, and how they were obtained.
#[derive(Clone, Debug)]
pub struct Fetched<T> {
    /// The records, oldest window piece first, in the provider's order within each.
    pub items: Vec<T>,
    /// The window asked for and the pieces queried.
    pub plan: Plan,
    /// Set when the window reached further back than the provider keeps history: nothing
    /// before `kept_start` could be asked for.
    pub clipped: Option<Clipped>,
    /// Requests sent, retries included.
    pub requests: u32,
    /// Retries after throttling or network errors.
    pub retries: u32,
    /// True when the client's `max_records` setting stopped the listing early.
    pub truncated: bool,
}

impl<T> Fetched<T> {
    pub(crate) fn new(plan: Plan) -> Self {
        Fetched {
            items: Vec::new(),
            clipped: plan.clipped,
            plan,
            requests: 0,
            retries: 0,
            truncated: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_pager_walks_pages_then_pieces_counts_a_boundary_once_and_stops_at_the_cap() {
        let plan = window::plan(
            t(0),
            t(2 * 86_400),
            t(3 * 86_400),
            chrono::Duration::days(1),
            chrono::Duration::days(7),
        );
        assert_eq!(plan.pieces.len(), 2);
        let paging = Paging {
            page_size: 2,
            max_page: 100,
            max_records: 4,
        };
        let mut out = Fetched::<i64>::new(plan.clone());
        let mut pager = Pager::new(&plan, paging);
        let mut asked = Vec::new();
        // Piece 1: a full page, then a short one ending on the boundary; piece 2 starts with
        // that boundary record again, then more than the cap allows.
        let pages: Vec<Vec<i64>> = vec![
            vec![10, 20],
            vec![86_400],
            vec![86_400, 90_000],
            vec![95_000, 99_000],
        ];
        let mut pages = pages.into_iter();
        while let Some((piece, page)) = pager.next() {
            asked.push((piece.start, page));
            let items = pages
                .next()
                .expect("no more pages asked for than there are");
            pager.take(
                &mut out,
                Page {
                    items,
                    total_num: None,
                    total_page: None,
                },
                |s| Some(t(*s)),
            );
        }
        assert_eq!(
            asked,
            [(t(0), 1), (t(0), 2), (t(86_400), 1), (t(86_400), 2)]
        );
        assert_eq!(out.items, [10, 20, 86_400, 90_000]);
        assert!(out.truncated);
    }
}
