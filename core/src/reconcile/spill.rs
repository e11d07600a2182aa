//! An external sort: entries pushed in any order come back in key order, with at most
//! [`RUN_BYTES`] of them in memory. Runs of that size are sorted in memory and written to
//! temporary files, then merged, one entry per run in memory at a time. Every [`FAN_IN`]
//! runs of one size are merged into one run as they come (as a counter carries), so that the
//! open files and the merge's buffers grow with the logarithm of the count, not the count:
//! 30 million objects named in 30 bytes make some 1,000 runs, past the 1,024 files a process
//! may open by default.
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
/// Runs of one size merged into one.
const FAN_IN: usize = 64;

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
    /// Each run with its level: a run of level `n` holds `FAN_IN`^`n` written ones. Levels
    /// never increase along the list.
    runs: Vec<(u32, File)>,
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
        self.runs.push((0, rewound(out)?));
        self.bytes = 0;
        while self.runs.len() >= FAN_IN && self.runs[self.runs.len() - FAN_IN].0 == self.runs[self.runs.len() - 1].0 {
            let level = self.runs[self.runs.len() - 1].0;
            let merged = Sorted::<T>::merge(self.runs.split_off(self.runs.len() - FAN_IN).into_iter().map(|(_, f)| f))?;
            let mut out = BufWriter::new(tempfile::tempfile_in(&self.dir)?);
            for entry in merged {
                serde_json::to_writer(&mut out, &entry?)?;
                out.write_all(b"\n")?;
            }
            self.runs.push((level + 1, rewound(out)?));
        }
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
        Sorted::merge(self.runs.into_iter().map(|(_, file)| file))
    }
}

/// The file written through `out`, back at its start.
fn rewound(out: BufWriter<File>) -> io::Result<File> {
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
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
    /// The entries of sorted `runs`, merged in key order.
    fn merge(runs: impl Iterator<Item = File>) -> io::Result<Self> {
        let mut sorted = Sorted { runs: Vec::new(), heads: BinaryHeap::new(), memory: Vec::new().into_iter() };
        for file in runs {
            sorted.runs.push((BufReader::new(file), None));
            sorted.advance(sorted.runs.len() - 1)?;
        }
        Ok(sorted)
    }

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
    fn runs_of_one_size_are_merged_as_they_come_so_few_files_stay_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path().to_path_buf());
        // 8 words a run: 4,100 runs, merged into 64² + 4 runs of levels 2 and 0.
        let count = 8 * (FAN_IN * FAN_IN + 4) as u32;
        let words: Vec<String> = (0..count).map(|i| format!("{:08}", (i * 7919) % count)).collect();
        for word in &words {
            spill.push(Word(word.clone())).unwrap();
        }
        let levels: Vec<u32> = spill.runs.iter().map(|(level, _)| *level).collect();
        assert_eq!(levels, [2, 0, 0, 0, 0]);
        let sorted: Vec<String> = spill.sorted().unwrap().map(|w| w.unwrap().0).collect();
        let mut expected = words.clone();
        expected.sort();
        assert_eq!(sorted, expected);
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
