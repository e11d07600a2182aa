//! Files that change between the listing and the read, or while they are read: swapped for
//! a link to a file outside the tree (the attack), a parent directory swapped for a link,
//! another file renamed into place, a fifo, a file written to mid-read. None may be read
//! through a link or archived torn; each is named as changed during the export.

use std::os::unix::fs::symlink;
use std::path::Path;

use futures_util::StreamExt;
use sortie_plugin_fs::FsProvider;
use sortie_sdk::item::Item;
use sortie_sdk::provider::Provider;

async fn listed(provider: &FsProvider, id: &str) -> Item {
    let mut cursor = None;
    loop {
        let page = provider.list_page(cursor).await.unwrap();
        if let Some(item) = page.items.into_iter().find(|item| item.id.display() == id) {
            return item;
        }
        cursor = Some(page.next.expect("listed"));
    }
}

/// Reads the item's whole body: its bytes, or the first error's message and whether it
/// is worth retrying.
async fn read(provider: &FsProvider, item: &Item) -> Result<Vec<u8>, (String, bool)> {
    let body = provider.open(item).await.map_err(|e| (e.to_string(), e.is_temporary()))?;
    let mut stream = body.stream;
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.map_err(|e| (e.to_string(), e.is_temporary()))?);
    }
    Ok(data)
}

fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("shadow"), b"root:secret-hash:0:0\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/small.txt"), b"small").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 3 << 20]).unwrap();
    std::fs::write(dir.path().join("z_swap.bin"), b"harmless").unwrap();
    (dir, outside)
}

fn provider(root: &Path) -> FsProvider {
    FsProvider::new(root.to_path_buf(), false, &[])
}

#[tokio::test]
async fn a_file_swapped_for_a_link_after_listing_is_never_read_through_it() {
    let (dir, outside) = tree();
    let provider = provider(dir.path());
    let small = listed(&provider, "z_swap.bin").await;
    let big = listed(&provider, "big.bin").await;
    for (item, name) in [(&small, "z_swap.bin"), (&big, "big.bin")] {
        std::fs::remove_file(dir.path().join(name)).unwrap();
        symlink(outside.path().join("shadow"), dir.path().join(name)).unwrap();
        let (error, _) = read(&provider, item).await.unwrap_err();
        assert!(error.contains("changed during the export") && error.contains("symbolic link"), "{error}");
    }
}

#[tokio::test]
async fn a_parent_directory_swapped_for_a_link_is_never_crossed() {
    let (dir, outside) = tree();
    let provider = provider(dir.path());
    let item = listed(&provider, "sub/small.txt").await;
    std::fs::create_dir(outside.path().join("sub")).unwrap();
    std::fs::write(outside.path().join("sub/small.txt"), b"outside").unwrap();
    std::fs::rename(dir.path().join("sub"), dir.path().join("old-sub")).unwrap();
    symlink(outside.path().join("sub"), dir.path().join("sub")).unwrap();
    let (error, _) = read(&provider, &item).await.unwrap_err();
    assert!(error.contains("changed during the export"), "{error}");
}

#[tokio::test]
async fn another_file_renamed_into_place_or_a_fifo_is_refused() {
    let (dir, _outside) = tree();
    let provider = provider(dir.path());
    let item = listed(&provider, "z_swap.bin").await;
    std::fs::write(dir.path().join("other"), b"harmless").unwrap();
    std::fs::rename(dir.path().join("other"), dir.path().join("z_swap.bin")).unwrap();
    let (error, retry) = read(&provider, &item).await.unwrap_err();
    assert!(error.contains("another file was put in its place") && !retry, "{error}");

    let item = listed(&provider, "sub/small.txt").await;
    std::fs::remove_file(dir.path().join("sub/small.txt")).unwrap();
    let made = std::process::Command::new("mkfifo").arg(dir.path().join("sub/small.txt")).status().unwrap();
    assert!(made.success());
    let (error, _) = read(&provider, &item).await.unwrap_err();
    assert!(error.contains("no longer a regular file"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_to_while_it_is_read_fails_as_temporary_and_reads_whole_once_still() {
    let (dir, _outside) = tree();
    let provider = provider(dir.path());
    let item = listed(&provider, "big.bin").await;
    let body = provider.open(&item).await.unwrap();
    let mut stream = body.stream;
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    // Rewritten in place, same size: only the times tell.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("big.bin"), vec![9u8; 3 << 20]).unwrap();
    let mut outcome = Ok(());
    while let Some(chunk) = stream.next().await {
        if let Err(e) = chunk {
            outcome = Err(e);
            break;
        }
    }
    let error = outcome.unwrap_err();
    assert!(error.to_string().contains("written to while it was read") && error.is_temporary(), "{error}");
    // Read again, the file is whole and of one version.
    let data = read(&provider, &item).await.unwrap();
    assert_eq!(data, vec![9u8; 3 << 20]);
}
