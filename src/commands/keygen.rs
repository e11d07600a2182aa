//! `sortie keygen`: a minisign key pair for `export --sign`.

use std::io::IsTerminal;

use anyhow::Result;
use serde_json::json;

use super::print_outcome;
use crate::cli::KeygenArgs;
use crate::evidence::{bad_input, sign};
use crate::exit;

pub fn run(args: &KeygenArgs) -> Result<i32> {
    let mut public = args.key.as_os_str().to_owned();
    public.push(".pub");
    let public = std::path::PathBuf::from(public);
    if let Some(existing) = [&args.key, &public].into_iter().find(|p| !args.force && p.symlink_metadata().is_ok()) {
        return Err(bad_input(format!("{} already exists: pass --force to overwrite it", existing.display())));
    }
    let password = if args.unprotected {
        None
    } else if let Some(password) = std::env::var_os(sign::PASSWORD_ENV) {
        Some(password.into_string().map_err(|_| bad_input(format!("{} is not valid UTF-8", sign::PASSWORD_ENV)))?)
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password to protect the secret key: ")?;
        let second = rpassword::prompt_password("The same password again: ")?;
        if first != second {
            return Err(bad_input("the two passwords differ; nothing was written".into()));
        }
        Some(first)
    } else {
        return Err(bad_input(format!(
            "no password for the secret key: set {} for a run without a terminal, or pass --unprotected",
            sign::PASSWORD_ENV
        )));
    };
    let protected = password.is_some();
    let id = sign::generate(&args.key, &public, password)?;
    if args.json {
        print_outcome(
            exit::OK,
            &json!({"key_id": id, "secret_key": args.key, "public_key": public, "protected": protected}),
        )?;
    } else {
        out!("key id      {id}")?;
        out!("secret key  {}{}", args.key.display(), if protected { " (protected by a password)" } else { "" })?;
        out!(
            "public key  {}: give it to whoever checks the archives (sortie verify --key, minisign -V -p)",
            public.display()
        )?;
    }
    Ok(exit::OK)
}
