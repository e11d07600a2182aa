//! Finds keys that are both a leaf and a directory (`a` beside `a/b`) in a listing sorted
//! by key bytes, with memory bounded by the depth of a key, not the number of keys.
//!
//! A leaf `L` can only be followed by its children while the listing stays inside the
//! range of keys that start with `L` and continue with a byte up to `/`; once the listing
//! leaves that range, sorted order guarantees it never comes back. The candidates still
//! open are therefore prefixes of one another and form a stack.

use std::collections::HashSet;

#[derive(Debug, Default)]
pub(crate) struct LeafConflicts {
    open: Vec<Vec<u8>>,
    conflicted: HashSet<Vec<u8>>,
}

impl LeafConflicts {
    /// Feeds the next key of a sorted listing.
    pub(crate) fn observe(&mut self, key: &[u8]) {
        while let Some(top) = self.open.last() {
            let still_open = key.starts_with(top) && key.get(top.len()).is_some_and(|&b| b <= b'/');
            if still_open {
                break;
            }
            self.open.pop();
        }
        for candidate in &self.open {
            if key.get(candidate.len()) == Some(&b'/') {
                self.conflicted.insert(candidate.clone());
            }
        }
        self.open.push(key.to_vec());
    }

    /// The leaves that are also directories.
    pub(crate) fn into_set(self) -> HashSet<Vec<u8>> {
        self.conflicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflicts(keys: &[&str]) -> Vec<String> {
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort();
        let mut detector = LeafConflicts::default();
        for key in sorted {
            detector.observe(key.as_bytes());
        }
        let mut out: Vec<String> = detector.into_set().into_iter().map(|k| String::from_utf8(k).unwrap()).collect();
        out.sort();
        out
    }

    #[test]
    fn finds_leaves_that_are_directories_across_interleaved_keys() {
        assert_eq!(conflicts(&["a", "a.txt", "a-b", "a/b", "b"]), ["a"]);
        assert_eq!(conflicts(&["a", "a/", "a/b", "a/b/c", "ab"]), ["a", "a/b"]);
        assert_eq!(conflicts(&["a", "ab/c", "b/a"]), Vec::<String>::new());
        assert_eq!(conflicts(&["x", "x!", "x!/y", "x/y"]), ["x", "x!"]);
    }
}
