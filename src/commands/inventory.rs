//! `sortie inventory`.

use anyhow::Result;
use indicatif::HumanBytes;
use serde_json::json;
use sortie_core::engine::{self, SourceInventory};

use super::{context, open_sources, print_outcome, warn};
use crate::cli::InventoryArgs;
use crate::exit;

pub async fn run(args: InventoryArgs) -> Result<i32> {
    let context = context(&args.source, Vec::new());
    let (progress, bar) = crate::progress::sink(!args.json);
    let listed = match open_sources(&args.source, &context, &progress).await {
        Ok((opened, mut overlaps)) => {
            let specs: Vec<_> = opened.iter().map(|s| s.spec.clone()).collect();
            for archive in engine::interrupted_exports(std::path::Path::new("."), &specs) {
                let message = format!(
                    "an interrupted export of these sources to {} can be continued: sortie export … -o {} --resume",
                    archive.display(),
                    archive.display()
                );
                overlaps.push(sortie_core::warning::Warning::new("interrupted_export", message));
            }
            warn(&bar, &overlaps);
            let sources = engine::inventory(&opened, &context.retry, progress).await;
            sources.map(|sources| (sources, overlaps)).map_err(anyhow::Error::from)
        }
        Err(error) => Err(error),
    };
    bar.finish_and_clear();
    let (sources, mut warnings) = listed?;
    let empty: Vec<_> = sources.iter().filter_map(SourceInventory::empty_warning).collect();
    warn(&bar, &empty);
    warnings.extend(empty);
    let code = if sources.iter().any(|s| s.error.is_some()) { exit::INCOMPLETE } else { exit::OK };
    if args.json {
        print_outcome(code, &json!({"sources": sources, "warnings": warnings}))?;
    } else {
        for source in &sources {
            out!("{}  {}", source.source, source.url)?;
            for (kind, counts) in &source.kinds {
                out!("  {kind:<16} {:>10} items {:>12}", counts.items, HumanBytes(counts.bytes).to_string())?;
            }
            for (class, counts) in &source.storage_classes {
                out!("  class {class:<10} {:>10} items {:>12}", counts.items, HumanBytes(counts.bytes).to_string())?;
            }
            if let Some(error) = &source.error {
                out!("  listing incomplete: {error}")?;
            }
        }
    }
    Ok(code)
}
