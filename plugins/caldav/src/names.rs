//! Names made distinct, so that two resources (or collections) never land on one path of
//! the archive, where the later would hide the earlier: `event` and `event.ics` both
//! become `event.ics` once the extension is added, `/a/work/` and `/b/work/` both `work`.

use std::collections::HashSet;

/// `names` in the same order, each distinct from the others and from `reserved`: the first
/// of equal names keeps it, each later one gets `~2`, `~3`… before `extension`, skipping any
/// name that is taken or that another entry has. The order is the listing's, sorted, so
/// that every process makes the same choice.
pub fn distinct(names: Vec<Vec<u8>>, extension: &[u8], reserved: &[&[u8]]) -> Vec<Vec<u8>> {
    let natural: HashSet<Vec<u8>> = names.iter().cloned().chain(reserved.iter().map(|r| r.to_vec())).collect();
    let mut used: HashSet<Vec<u8>> = reserved.iter().map(|r| r.to_vec()).collect();
    names
        .into_iter()
        .map(|name| {
            if used.insert(name.clone()) {
                return name;
            }
            let stem = name.strip_suffix(extension).unwrap_or(&name);
            (2u64..)
                .map(|n| [stem, format!("~{n}").as_bytes(), &name[stem.len()..]].concat())
                .find(|candidate| !natural.contains(candidate) && used.insert(candidate.clone()))
                .expect("some number is free")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(names: &[&str], extension: &str, reserved: &[&[u8]]) -> Vec<String> {
        let names = names.iter().map(|n| n.as_bytes().to_vec()).collect();
        distinct(names, extension.as_bytes(), reserved).into_iter().map(|n| String::from_utf8(n).unwrap()).collect()
    }

    #[test]
    fn equal_names_get_numbers_that_no_other_name_has() {
        assert_eq!(run(&["a.ics", "a.ics", "a~2.ics", "b.ics"], ".ics", &[]), ["a.ics", "a~3.ics", "a~2.ics", "b.ics"]);
        assert_eq!(run(&["work", "work", "work"], "", &[]), ["work", "work~2", "work~3"]);
        assert_eq!(run(&["account", "home"], "", &[b"account"]), ["account~2", "home"]);
    }
}
