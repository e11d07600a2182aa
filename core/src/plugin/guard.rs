//! What the host checks in a plugin's listing before the engine sees it. The engine trusts
//! the built-in providers to list every path once, never a file where a directory is, and
//! flat namespaces in byte order (its leaf-and-directory detection relies on it); a
//! plugin's word is not enough, and a broken promise would give an archive that says
//! complete and does not verify. Each offending item fails instead (exit 3), named.
//!
//! Memory: 8 bytes per path the source listed (hashes in sets), and per cursor.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use sortie_sdk::item::{Area, Item, Kind, RawName, Skip};
use sortie_sdk::provider::Page;

#[derive(Default)]
pub struct ListingGuard {
    state: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Every item with bytes, by area, path and version.
    leaves: HashSet<u64>,
    /// Every directory listed or implied by a path, by area and path.
    dirs: HashSet<u64>,
    /// Every directory item, by area and path.
    dir_items: HashSet<u64>,
    /// The last key of each area of a flat namespace (content, configuration).
    last_key: [Option<Vec<u8>>; 2],
    /// Every cursor the listing handed out.
    cursors: HashSet<u64>,
    /// The last request's cursor and the items its page had: the engine asks a page again
    /// after a temporary error, which is no repeat.
    last: Option<(Option<String>, Vec<RawName>)>,
}

fn hash(parts: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

fn area_tag(area: Area) -> u8 {
    match area {
        Area::Content => 0,
        Area::Config => 1,
        Area::Versions => 2,
    }
}

impl ListingGuard {
    /// Checks the page the plugin answered `cursor` with: items that repeat a path, put a
    /// file where a directory is (or under a file), or break a flat namespace's byte order
    /// fail; a `next` cursor handed out before ends the listing with an error.
    pub fn check(&self, cursor: &Option<String>, page: &mut Page, flat: bool) -> Result<(), String> {
        let mut seen = self.state.lock().expect("no panic while held");
        let ids: Vec<RawName> = page.items.iter().map(|item| item.id.clone()).collect();
        if seen.last.as_ref().is_some_and(|(last_cursor, last_ids)| last_cursor == cursor && *last_ids == ids) {
            return Ok(());
        }
        for item in &mut page.items {
            if item.skip.is_none()
                && let Some(problem) = seen.observe(item, flat)
            {
                item.skip = Some(Skip::Failed(problem));
            }
        }
        if let Some(next) = &page.next
            && !seen.cursors.insert(hash(next))
        {
            return Err(format!("handed out the cursor {next:?} a second time: the listing would never end"));
        }
        seen.last = Some((cursor.clone(), ids));
        Ok(())
    }
}

impl Seen {
    fn observe(&mut self, item: &Item, flat: bool) -> Option<String> {
        let area = area_tag(item.area);
        let path = || item.segments.iter().map(RawName::display).collect::<Vec<_>>().join("/");
        if flat && item.area != Area::Versions {
            let key: Vec<u8> = item.segments.iter().map(|s| s.0.as_slice()).collect::<Vec<_>>().join(&b'/');
            let last = &mut self.last_key[area as usize];
            if last.as_ref().is_some_and(|last| key <= *last) {
                return Some(format!(
                    "the plugin listed {} out of byte order although it says its namespace is flat and sorted",
                    path()
                ));
            }
            *last = Some(key);
        }
        let here = hash((area, &item.segments));
        if item.kind == Kind::Directory {
            if !self.dir_items.insert(here) {
                return Some(format!("the plugin listed the directory {} twice", path()));
            }
            if !flat && self.leaves.contains(&hash((area, &item.segments, &None::<RawName>))) {
                return Some(format!("the plugin listed {} as a file and as a directory", path()));
            }
        } else if item.has_body {
            if !self.leaves.insert(hash((area, &item.segments, &item.version))) {
                return Some(format!("the plugin listed {} twice", path()));
            }
            if !flat && item.area != Area::Versions && self.dirs.contains(&here) {
                return Some(format!("the plugin listed {} as a file and as a directory", path()));
            }
        }
        if !flat && item.area != Area::Versions {
            for depth in 1..item.segments.len() {
                let prefix = &item.segments[..depth];
                if self.leaves.contains(&hash((area, prefix, &None::<RawName>))) {
                    let parent = prefix.iter().map(RawName::display).collect::<Vec<_>>().join("/");
                    return Some(format!("the plugin listed {} under {parent}, which it listed as a file", path()));
                }
            }
            for depth in 1..item.segments.len() {
                self.dirs.insert(hash((area, &item.segments[..depth])));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, kind: Kind) -> Item {
        let mut item = Item::new(RawName::text(path), path.split('/').map(RawName::text).collect(), kind);
        item.has_body = kind != Kind::Directory;
        item
    }

    fn failures(items: Vec<Item>, flat: bool) -> Vec<String> {
        let guard = ListingGuard::default();
        let mut page = Page::new(items, None);
        guard.check(&None, &mut page, flat).unwrap();
        page.items
            .iter()
            .filter_map(|i| match &i.skip {
                Some(Skip::Failed(why)) => Some(format!("{}: {why}", i.id.display())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn repeated_paths_and_files_where_directories_are_fail_their_items() {
        let listed = vec![
            item("d", Kind::Directory),
            item("d/x", Kind::File),
            item("a", Kind::File),
            item("a/b", Kind::File),
            item("d", Kind::File),
            item("d/x", Kind::File),
            item("d", Kind::Directory),
            item("e/f/g", Kind::File),
            item("e", Kind::File),
        ];
        let failed = failures(listed, false);
        assert_eq!(failed.len(), 5, "{failed:#?}");
        assert!(failed[0].starts_with("a/b: the plugin listed a/b under a, which it listed as a file"), "{failed:#?}");
        assert!(failed[1].starts_with("d: the plugin listed d as a file and as a directory"), "{failed:#?}");
        assert!(failed[2].starts_with("d/x: the plugin listed d/x twice"), "{failed:#?}");
        assert!(failed[3].starts_with("d: the plugin listed the directory d twice"), "{failed:#?}");
        assert!(failed[4].starts_with("e: the plugin listed e as a file and as a directory"), "{failed:#?}");
    }

    #[test]
    fn a_flat_namespace_must_come_in_byte_order_and_may_hold_a_leaf_beside_its_children() {
        let failed =
            failures(vec![item("a", Kind::Object), item("a/b", Kind::Object), item("a/a", Kind::Object)], true);
        assert_eq!(
            failed,
            ["a/a: the plugin listed a/a out of byte order although it says its namespace is flat and sorted"]
        );
    }

    #[test]
    fn a_page_asked_again_is_no_repeat_but_a_cursor_handed_out_twice_ends_the_listing() {
        let guard = ListingGuard::default();
        let page = || Page::new(vec![item("a", Kind::File)], Some("next".into()));
        let (mut first, mut again) = (page(), page());
        guard.check(&Some("c".into()), &mut first, false).unwrap();
        guard.check(&Some("c".into()), &mut again, false).unwrap();
        assert!(again.items[0].skip.is_none(), "the same page again is not a duplicate");
        let mut cycle = Page::new(Vec::new(), Some("next".into()));
        let error = guard.check(&Some("other".into()), &mut cycle, false).unwrap_err();
        assert!(error.contains("a second time"), "{error}");
    }
}
