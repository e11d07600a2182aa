//! `sortie providers`.

use anyhow::Result;
use serde_json::json;

use super::print_json;
use crate::cli::JsonArg;
use crate::exit;

pub fn run(args: &JsonArg) -> Result<i32> {
    let registry = crate::providers::registry();
    if args.json {
        let list: Vec<_> = registry
            .factories()
            .map(|f| json!({"scheme": f.scheme(), "description": f.description(), "example": f.example()}))
            .collect();
        print_json(&list)?;
    } else {
        let width = registry.factories().map(|f| f.scheme().len()).max().unwrap_or(0);
        for factory in registry.factories() {
            out!("{:<width$}  {}\n{:width$}  e.g. {}", factory.scheme(), factory.description(), "", factory.example())?;
        }
    }
    Ok(exit::OK)
}
