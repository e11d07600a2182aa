//! `sortie plan`.

use anyhow::Result;

use super::{context, plan_of, print_json, warn};
use crate::cli::PlanArgs;
use crate::exit;

pub async fn run(args: PlanArgs) -> Result<i32> {
    let context = context(&args.source, Vec::new());
    let (progress, bar) = crate::progress::sink(!args.json);
    let plan = plan_of(&args.source, &context, &progress).await;
    bar.finish_and_clear();
    let (plan, warnings) = plan?;
    warn(&bar, &warnings);
    // Opening checks every planned source (credentials, existence) as an export would.
    sortie_core::plan::open(&crate::providers::registry()?, &plan, &context, &progress).await?;
    if args.json {
        print_json(&plan)?;
    } else {
        for source in &plan.sources {
            out!("{}  {}", source.id, source.url)?;
            for (name, value) in source.settings.public() {
                out!("  {name} = {value}")?;
            }
        }
    }
    Ok(exit::OK)
}
