//! `sortie inventory`.

use anyhow::Result;
use indicatif::HumanBytes;
use sortie_core::engine;

use super::{context, open_sources, print_json};
use crate::cli::InventoryArgs;
use crate::exit;

pub async fn run(args: InventoryArgs) -> Result<i32> {
    let context = context(&args.source, Vec::new());
    let (progress, bar) = crate::progress::sink(!args.json);
    let sources = match open_sources(&args.source, &context, &progress).await {
        Ok(opened) => engine::inventory(&opened, &context.retry, progress).await.map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    bar.finish_and_clear();
    let sources = sources?;
    if args.json {
        print_json(&sources)?;
    } else {
        for source in &sources {
            out!("{}  {}", source.report.source, source.report.url)?;
            for (kind, counts) in &source.report.kinds {
                out!("  {kind:<16} {:>10} items {:>12}", counts.listed, HumanBytes(counts.listed_bytes).to_string())?;
            }
            for (class, counts) in &source.storage_classes {
                out!("  class {class:<10} {:>10} items {:>12}", counts.items, HumanBytes(counts.bytes).to_string())?;
            }
            if let Some(error) = &source.error {
                out!("  listing incomplete: {error}")?;
            }
        }
    }
    Ok(if sources.iter().any(|s| s.error.is_some()) { exit::INCOMPLETE } else { exit::OK })
}
