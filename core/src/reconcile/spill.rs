//! An external sort: entries pushed in any order come back in key order, with at most
//! [`RUN_BYTES`] of them in memory. Runs of that size are sorted in memory and written to
//! temporary files, then merged, one entry per run in memory at a time.
//!
//! Written here rather than taken from a crate: the one job (JSON lines, one key, a k-way
//! merge over a binary heap) is some sixty lines, and the crates that do it bring thread
//! pools or serialization formats the project does not otherwise use.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Entries' text held in memory before a run is written out.
const RUN_BYTES: usize = 8 << 20;

/// What the spill sorts.
pub(crate) trait Keyed: Serialize + DeserializeOwned {
    /// The sort key.
    fn key(&self) -> &str;
    /// About how much memory the entry holds.
    fn weight(&self) -> usize;
}

/// Entries on their way to being sorted.
pub(crate) struct Spill<T> {
    dir: PathBuf,
    buffer: Vec<T>,
    bytes: usize,
    runs: Vec<File>,
}

impl<T: Keyed> Spill<T> {
    /// A spill whose runs go to temporary files in `dir` (removed when dropped).
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir, buffer: Vec::new(), bytes: 0, runs: Vec::new() }
    }

    pub(crate) fn push(&mut self, entry: T) -> io::Result<()> {
        self.bytes += entry.weight();
        self.buffer.push(entry);
        if self.bytes >= RUN_BYTES { self.write_run() } else { Ok(()) }
    }

    fn write_run(&mut self) -> io::Result<()> {
        self.buffer.sort_by(|a, b| a.key().cmp(b.key()));
        let mut out = BufWriter::new(tempfile::tempfile_in(&self.dir)?);
        for entry in self.buffer.drain(..) {
            serde_json::to_writer(&mut out, &entry)?;
            out.write_all(b"\n")?;
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        self.bytes = 0;
        Ok(())
    }

    /// Every entry pushed, in key order.
    pub(crate) fn sorted(mut self) -> io::Result<Sorted<T>> {
        if self.runs.is_empty() {
            self.buffer.sort_by(|a, b| a.key().cmp(b.key()));
            return Ok(Sorted { runs: Vec::new(), heads: BinaryHeap::new(), memory: self.buffer.into_iter() });
        }
        if !self.buffer.is_empty() {
            self.write_run()?;
        }
        let mut sorted = Sorted { runs: Vec::new(), heads: BinaryHeap::new(), memory: Vec::new().into_iter() };
        for file in self.runs {
            sorted.runs.push((BufReader::new(file), None));
            sorted.advance(sorted.runs.len() - 1)?;
        }
        Ok(sorted)
    }
}

/// The entries of a [`Spill`] in key order.
pub(crate) struct Sorted<T> {
    /// Each run and its next entry.
    runs: Vec<(BufReader<File>, Option<T>)>,
    /// (key of a run's next entry, run) for every run not done.
    heads: BinaryHeap<Reverse<(String, usize)>>,
    /// Everything, when it all fitted in memory.
    memory: std::vec::IntoIter<T>,
}

impl<T: Keyed> Sorted<T> {
    /// Reads run `index`'s next entry.
    fn advance(&mut self, index: usize) -> io::Result<()> {
        let (reader, next) = &mut self.runs[index];
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            *next = None;
            return Ok(());
        }
        let entry: T = serde_json::from_str(&line)?;
        self.heads.push(Reverse((entry.key().to_owned(), index)));
        *next = Some(entry);
        Ok(())
    }
}

impl<T: Keyed> Iterator for Sorted<T> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<io::Result<T>> {
        if self.runs.is_empty() {
            return self.memory.next().map(Ok);
        }
        let Reverse((_, index)) = self.heads.pop()?;
        let entry = self.runs[index].1.take().expect("a head has its entry");
        Some(self.advance(index).map(|()| entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Word(String);

    impl Keyed for Word {
        fn key(&self) -> &str {
            &self.0
        }
        fn weight(&self) -> usize {
            self.0.len() + (1 << 20)
        }
    }

    #[test]
    fn runs_on_disk_merge_into_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path().to_path_buf());
        let words: Vec<String> = (0..50u32).map(|i| format!("{:08}", (i * 7919) % 50)).collect();
        for word in &words {
            spill.push(Word(word.clone())).unwrap();
        }
        assert!(spill.runs.len() >= 5, "the weights force runs on disk");
        let sorted: Vec<String> = spill.sorted().unwrap().map(|w| w.unwrap().0).collect();
        let mut expected = words.clone();
        expected.sort();
        assert_eq!(sorted, expected);
    }
}
