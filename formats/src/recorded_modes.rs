//! The permission bits the inventory recorded for each payload file (`meta.mode`, written by
//! sources that have modes, such as a local directory), looked up while `extract` places the
//! files.
//!
//! Sortie writes inventory records in member order, so one forward pass over the inventory
//! answers every file in turn: memory and time stay bounded whatever the archive holds. A
//! file missing from that order (an archive Sortie did not write) gets no mode, and neither
//! do the files after it.

use std::fs::File;

use serde::Deserialize;
use serde_json::Value;

use crate::verify::Lines;

/// The fields of an inventory record that matter here. `meta` is whatever the provider put
/// there: a `mode` that is not octal text is no mode, and never makes the record unreadable.
#[derive(Deserialize)]
struct Record {
    path: Option<String>,
    #[serde(default)]
    meta: Value,
}

/// A forward reader of the inventory's modes.
pub(crate) struct RecordedModes {
    lines: Option<Lines>,
}

impl RecordedModes {
    /// Reads the inventory in `file`.
    pub(crate) fn of(file: File) -> Self {
        Self { lines: Lines::of(file).ok() }
    }

    /// No inventory: no file gets a mode.
    pub(crate) fn none() -> Self {
        Self { lines: None }
    }

    /// The mode recorded for the payload file at bag-relative `path` (`data/…`), looking
    /// forward from the previous answer.
    pub(crate) fn mode_of(&mut self, path: &str) -> Option<u32> {
        let lines = self.lines.as_mut()?;
        for line in lines.by_ref() {
            let line = match line {
                Ok(Ok(line)) => line,
                Ok(Err(_too_long)) => continue,
                Err(_) => break,
            };
            let Ok(record) = serde_json::from_str::<Record>(&line) else { continue };
            if record.path.as_deref() == Some(path) {
                let mode = record.meta.get("mode").and_then(Value::as_str);
                return mode.and_then(|mode| u32::from_str_radix(mode, 8).ok());
            }
        }
        self.lines = None;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    #[test]
    fn modes_are_found_in_order_and_a_missing_path_ends_the_search() {
        let mut file = tempfile::tempfile().unwrap();
        for line in [
            r#"{"path":"data/s/a","meta":{"mode":"0600"}}"#,
            r#"{"path":null,"meta":{"mode":"0777","target":"a"}}"#,
            r#"{"path":"data/s/d","meta":{"mode":"0755"}}"#,
            r#"{"path":"data/s/b","meta":{"mode":420}}"#,
            r#"{"path":"data/s/c","meta":{"mode":"4755"}}"#,
        ] {
            writeln!(file, "{line}").unwrap();
        }
        file.rewind().unwrap();
        let mut modes = RecordedModes::of(file.try_clone().unwrap());
        assert_eq!(modes.mode_of("data/s/a"), Some(0o600));
        assert_eq!(modes.mode_of("data/s/b"), None);
        assert_eq!(modes.mode_of("data/s/c"), Some(0o4755));
        assert_eq!(modes.mode_of("data/s/zz"), None);
        assert_eq!(modes.mode_of("data/s/c"), None, "nothing after a path that is not there");
        file.rewind().unwrap();
        assert_eq!(RecordedModes::of(file).mode_of("data/s/c"), Some(0o4755));
        assert_eq!(RecordedModes::none().mode_of("data/s/a"), None);
    }
}
