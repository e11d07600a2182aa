//! The bytes of one attempt at a body, counted as progress while they arrive.
//!
//! A bar that moved only when an item was archived would stand still for the whole
//! download of a large object. An attempt that fails takes its bytes back
//! ([`Event::Discarded`]): a body fetched again is then counted once, at the price of a bar
//! that steps back on a retry, which says what happened.

use crate::progress::{Event, ProgressSink, RECEIVED_STEP};

pub(crate) struct Received<'a> {
    progress: &'a ProgressSink,
    /// Bytes already reported.
    counted: u64,
    /// Bytes not yet reported, fewer than [`RECEIVED_STEP`] until the body ends.
    pending: u64,
    kept: bool,
}

impl<'a> Received<'a> {
    pub(crate) fn new(progress: &'a ProgressSink) -> Self {
        Self { progress, counted: 0, pending: 0, kept: false }
    }

    pub(crate) fn add(&mut self, bytes: usize) {
        self.pending += bytes as u64;
        if self.pending >= RECEIVED_STEP {
            self.report();
        }
    }

    /// The attempt succeeded: its bytes stay counted.
    pub(crate) fn keep(mut self) {
        self.report();
        self.kept = true;
    }

    fn report(&mut self) {
        if self.pending > 0 {
            (self.progress)(Event::Received { bytes: self.pending });
            self.counted += self.pending;
            self.pending = 0;
        }
    }
}

impl Drop for Received<'_> {
    /// An attempt that failed, or was dropped midway, takes back what it reported.
    fn drop(&mut self) {
        if !self.kept && self.counted > 0 {
            (self.progress)(Event::Discarded { bytes: self.counted });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn recorder() -> (ProgressSink, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let events = seen.clone();
        let sink: ProgressSink = Arc::new(move |event| events.lock().unwrap().push(format!("{event:?}")));
        (sink, seen)
    }

    #[test]
    fn bytes_are_reported_in_steps_and_kept_or_taken_back() {
        let (sink, seen) = recorder();
        let step = RECEIVED_STEP as usize;
        let mut kept = Received::new(&sink);
        kept.add(step / 2);
        assert!(seen.lock().unwrap().is_empty(), "less than a step waits");
        kept.add(step / 2 + 10);
        kept.add(5);
        kept.keep();
        let mut failed = Received::new(&sink);
        failed.add(step + 1);
        failed.add(7);
        drop(failed);
        let expected = [
            format!("Received {{ bytes: {} }}", step + 10),
            "Received { bytes: 5 }".to_owned(),
            format!("Received {{ bytes: {} }}", step + 1),
            format!("Discarded {{ bytes: {} }}", step + 1),
        ];
        assert_eq!(*seen.lock().unwrap(), expected);
    }
}
