//! `sortie ovh credential`.

use anyhow::Result;

use super::print_json;
use crate::cli::OvhCredentialArgs;
use crate::exit;

/// Asks for a consumer key and says what to do with it. The key is printed: it is what
/// the command is for, and it reads nothing until the account's owner validates it.
pub async fn credential(args: OvhCredentialArgs) -> Result<i32> {
    let request = sortie_plugin_ovh::request_credential(args.endpoint, args.application_key, args.redirection).await?;
    if args.json {
        print_json(&request)?;
        return Ok(exit::OK);
    }
    let rules: Vec<String> =
        sortie_plugin_ovh::EXPORT_ACCESS_RULES.iter().map(|(method, path)| format!("{method} {path}")).collect();
    out!(
        "consumer key {} ({}), for application key '{}' at {}",
        request.consumer_key,
        request.state,
        request.application_key,
        request.endpoint
    )?;
    out!("rights asked for: {}", rules.join(", "))?;
    out!("\n1. validate it: open {} and log in as the account to export", request.validation_url)?;
    out!("2. store it, as the official OVH clients read it:")?;
    out!("     export OVH_CONSUMER_KEY={}", request.consumer_key)?;
    out!("   or in ovh.conf (./ovh.conf, ~/.ovh.conf or /etc/ovh.conf), section [{}]:", request.endpoint)?;
    out!("     consumer_key={}", request.consumer_key)?;
    out!("3. export: sortie export ovh:// -o ovh.tar.zst")?;
    Ok(exit::OK)
}
