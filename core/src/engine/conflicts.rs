//! Finds keys that are both a leaf and a directory (`a` beside `a/b`) in a listing sorted
//! by key bytes, holding back only the items whose answer is not known yet, so that a flat
//! listing of any length flows on to the fetchers while it is read.
//!
//! A leaf `L` can only be followed by its children while the listing stays inside the
//! range of keys that start with `L` and continue with a byte up to `/`; once the listing
//! leaves that range, sorted order guarantees it never comes back, and `L`'s answer is
//! final. The items still open are therefore prefixes of one another and form a stack no
//! deeper than the longest key.

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct LeafConflicts<T> {
    /// Open keys, each with its item and whether a child was seen.
    open: Vec<(Vec<u8>, T, bool)>,
}

impl<T> Default for LeafConflicts<T> {
    fn default() -> Self {
        Self { open: Vec::new() }
    }
}

impl<T> LeafConflicts<T> {
    /// Feeds the next key of a sorted listing with its item; returns the items whose
    /// answer became final, each with whether it is also a directory.
    pub(crate) fn observe(&mut self, key: Vec<u8>, item: T) -> Vec<(T, bool)> {
        let mut decided = Vec::new();
        while let Some((top, _, _)) = self.open.last() {
            let still_open = key.starts_with(top) && key.get(top.len()).is_some_and(|&b| b <= b'/');
            if still_open {
                break;
            }
            let (_, item, conflict) = self.open.pop().expect("a top");
            decided.push((item, conflict));
        }
        for (candidate, _, conflict) in &mut self.open {
            if key.get(candidate.len()) == Some(&b'/') {
                *conflict = true;
            }
        }
        self.open.push((key, item, false));
        decided
    }

    /// Whether no item is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The items held, their answer not known yet.
    pub(crate) fn items(&self) -> impl Iterator<Item = &T> {
        self.open.iter().map(|(_, item, _)| item)
    }

    /// The items still held, once the listing has ended.
    pub(crate) fn finish(self) -> Vec<(T, bool)> {
        self.open.into_iter().rev().map(|(_, item, conflict)| (item, conflict)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflicts(keys: &[&str]) -> Vec<String> {
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort();
        let mut detector = LeafConflicts::default();
        let mut decided = Vec::new();
        for key in sorted {
            decided.extend(detector.observe(key.as_bytes().to_vec(), key));
        }
        decided.extend(detector.finish());
        assert_eq!(decided.len(), keys.len(), "every item comes out once");
        let mut out: Vec<String> = decided.into_iter().filter(|(_, c)| *c).map(|(k, _)| k.to_owned()).collect();
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

    #[test]
    fn only_open_prefixes_are_held_back() {
        let mut detector = LeafConflicts::default();
        assert!(detector.observe(b"a".to_vec(), "a").is_empty());
        assert!(detector.observe(b"a/b".to_vec(), "a/b").is_empty());
        // Leaving `a/b`'s range decides it; `a` stays open (and is known to conflict).
        assert_eq!(detector.observe(b"a/c".to_vec(), "a/c"), [("a/b", false)]);
        assert_eq!(detector.observe(b"b".to_vec(), "b"), [("a/c", false), ("a", true)]);
        assert_eq!(detector.finish(), [("b", false)]);
    }
}
