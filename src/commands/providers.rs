//! `sortie providers`.

use anyhow::Result;
use serde::Serialize;
use sortie_core::registry::Origin;
use sortie_sdk::registry::ProviderInfo;
use sortie_sdk::{Error, ErrorKind};

use super::print_json;
use crate::cli::ProvidersArgs;
use crate::exit;

pub fn run(args: &ProvidersArgs) -> Result<i32> {
    let mut entries = crate::providers::registry()?.entries();
    if let Some(scheme) = &args.scheme {
        let known: Vec<String> = entries.iter().map(|(i, _)| i.scheme.clone()).collect();
        entries.retain(|(info, _)| &info.scheme == scheme);
        if entries.is_empty() {
            let message = format!("no provider for the scheme '{scheme}': available schemes are {}", known.join(", "));
            return Err(Error::new(ErrorKind::InvalidInput, message).into());
        }
    }
    if args.json {
        let listed: Vec<Listed> = entries.iter().map(|(info, origin)| Listed { info, origin }).collect();
        print_json(&listed)?;
    } else if args.scheme.is_some() {
        entries.iter().try_for_each(|(info, origin)| print_settings(info, origin))?;
    } else {
        let width = entries.iter().map(|(i, _)| i.scheme.len()).max().unwrap_or(0);
        for (info, origin) in &entries {
            out!(
                "{:<width$}  {}\n{:width$}  e.g. {}",
                info.scheme,
                info.description,
                "",
                info.examples.join("  or  ")
            )?;
            if let Origin::Plugin { .. } = origin {
                out!("{:width$}  from {origin}", "")?;
            }
        }
    }
    Ok(exit::OK)
}

/// A provider as `providers --json` prints it: its description, where it comes from.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    info: &'a ProviderInfo,
    #[serde(flatten)]
    origin: &'a Origin,
}

/// One provider's settings, for a person: name, type, how else to give it, help.
fn print_settings(info: &ProviderInfo, origin: &Origin) -> std::io::Result<()> {
    out!(
        "{}: {}\n  e.g. {}\n  {origin}\n\nsettings (--set KEY=VALUE, or settings: in the sources file):",
        info.scheme,
        info.description,
        info.examples.join("  or  ")
    )?;
    for setting in &info.settings {
        let kind = format!("{:?}", setting.kind).to_lowercase();
        let mut also = Vec::new();
        if let Some(flag) = &setting.flag {
            also.push(flag.clone());
        }
        also.extend(setting.env.iter().cloned());
        let default = setting.default.as_ref().map(|d| format!(", default {d}")).unwrap_or_default();
        let secret = if setting.secret { ", secret" } else { "" };
        out!("\n  {} ({kind}{default}{secret})", setting.name)?;
        if !also.is_empty() {
            out!("    also: {}", also.join(", "))?;
        }
        out!("    {}", setting.help)?;
    }
    Ok(())
}
