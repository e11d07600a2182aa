//! `sortie providers`.

use anyhow::Result;
use sortie_sdk::registry::ProviderInfo;
use sortie_sdk::{Error, ErrorKind};

use super::print_json;
use crate::cli::ProvidersArgs;
use crate::exit;

pub fn run(args: &ProvidersArgs) -> Result<i32> {
    let mut infos = crate::providers::registry().infos();
    if let Some(scheme) = &args.scheme {
        let known: Vec<String> = infos.iter().map(|i| i.scheme.clone()).collect();
        infos.retain(|info| &info.scheme == scheme);
        if infos.is_empty() {
            let message = format!("no provider for the scheme '{scheme}': available schemes are {}", known.join(", "));
            return Err(Error::new(ErrorKind::InvalidInput, message).into());
        }
    }
    if args.json {
        print_json(&infos)?;
    } else if args.scheme.is_some() {
        infos.iter().try_for_each(print_settings)?;
    } else {
        let width = infos.iter().map(|i| i.scheme.len()).max().unwrap_or(0);
        for info in &infos {
            out!("{:<width$}  {}\n{:width$}  e.g. {}", info.scheme, info.description, "", info.example)?;
        }
    }
    Ok(exit::OK)
}

/// One provider's settings, for a person: name, type, how else to give it, help.
fn print_settings(info: &ProviderInfo) -> std::io::Result<()> {
    out!(
        "{}: {}\n  e.g. {}\n\nsettings (--set KEY=VALUE, or settings: in the sources file):",
        info.scheme,
        info.description,
        info.example
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
