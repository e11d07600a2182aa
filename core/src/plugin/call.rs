//! Calling into a plugin: off the async workers, under a timeout, with the plugin's answer
//! copied out of its buffer (then given back to it) and decoded.

use std::time::Duration;

use sortie_plugin_abi::{self as abi, SortieBuf, SortiePlugin};
use sortie_sdk::source::SourceSpec;
use sortie_sdk::wire::SettingsWire;
use sortie_sdk::{Error, ErrorKind, Result};

use super::Plugin;

/// The most bytes one answer may hold (a page of items, an error): a plugin answering more
/// is broken, and the host must not parse gigabytes of JSON because of it.
pub const ANSWER_MAX: usize = 64 << 20;

/// A call did not return in time. Its thread is left to finish (or not) on its own: a C
/// call cannot be interrupted.
#[derive(Debug)]
pub struct TimedOut;

/// Runs a synchronous plugin call on a thread of its own, waiting at most `timeout`.
pub fn blocking<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TimedOut> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("sortie-plugin-call".into())
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(|_| TimedOut)?;
    receiver.recv_timeout(timeout).map_err(|_| TimedOut)
}

/// Runs a plugin call on tokio's blocking threads, waiting at most `timeout`.
pub async fn off_runtime<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TimedOut> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(value)) => Ok(value),
        _ => Err(TimedOut),
    }
}

/// What a call returned: its status, and its answer copied out of the plugin's buffer
/// (`Err(len)` when the answer was over [`ANSWER_MAX`]).
pub struct Answer {
    status: i32,
    bytes: Result<Vec<u8>, usize>,
}

impl Answer {
    /// Whether the call succeeded: only then is a handle it returned the host's to close.
    pub fn succeeded(&self) -> bool {
        self.status == abi::OK
    }
}

/// Makes a call that answers in a buffer, and takes the answer (the buffer goes back to the
/// plugin's `free_buf`, as the ABI wants).
pub fn answer(table: &SortiePlugin, call: impl FnOnce(*mut SortieBuf) -> i32) -> Answer {
    let mut out = SortieBuf::EMPTY;
    let status = call(&mut out);
    let bytes = if out.ptr.is_null() {
        Ok(Vec::new())
    } else if out.len > ANSWER_MAX {
        Err(out.len)
    } else {
        // SAFETY: the plugin returned `len` bytes at `ptr`, valid until given back.
        Ok(unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec())
    };
    if !out.ptr.is_null() {
        // SAFETY: a buffer this plugin returned, given back once.
        unsafe { (table.free_buf)(out) };
    }
    Answer { status, bytes }
}

/// The answer of a call that succeeded, or the plugin's error, named after the plugin.
pub fn outcome(plugin: &Plugin, call: &str, answer: Answer) -> Result<Vec<u8>> {
    let bytes = answer.bytes.map_err(|len| {
        broken(plugin, call, format!("answered {len} bytes, more than the {} MiB an answer may hold", ANSWER_MAX >> 20))
    })?;
    match answer.status {
        abi::OK => Ok(bytes),
        abi::ERROR => match serde_json::from_slice::<Error>(&bytes) {
            Ok(error) => Err(error.context(plugin.label())),
            Err(e) => Err(broken(plugin, call, format!("failed with an error that is not the ABI's JSON ({e})"))),
        },
        other => Err(broken(plugin, call, format!("returned the status {other}, neither 0 (ok) nor 1 (error)"))),
    }
}

/// A plugin that broke the ABI: not worth retrying.
pub fn broken(plugin: &Plugin, call: &str, what: String) -> Error {
    Error::new(ErrorKind::Other, format!("{}: {call} {what}", plugin.label()))
}

/// A call that did not return in time. Not retried: each retry could leave one more thread
/// stuck in the plugin, and the user chose how long a call may take.
pub fn timed_out(plugin: &Plugin, call: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "{}: {call} did not return within {} s (--plugin-timeout)",
            plugin.label(),
            plugin.timeout.as_secs_f64()
        ),
    )
}

/// Decodes a JSON answer.
pub fn decode<T: serde::de::DeserializeOwned>(plugin: &Plugin, call: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| broken(plugin, call, format!("returned invalid JSON ({e})")))
}

/// The secret values of a source's settings (long enough not to match by chance), which the
/// host takes out of what a plugin writes in its errors: a plugin may not know better.
pub fn secrets_of(spec: &SourceSpec) -> Vec<String> {
    SettingsWire::from(&spec.settings.secrets())
        .values
        .into_values()
        .filter_map(|value| value.as_str().map(str::to_owned))
        .filter(|secret| secret.len() >= 4)
        .collect()
}

/// `error` with every secret of `secrets` replaced by `<secret>`.
pub fn scrub(error: Error, secrets: &[String]) -> Error {
    let text = error.to_string();
    if !secrets.iter().any(|secret| text.contains(secret.as_str())) {
        return error;
    }
    let message = secrets.iter().fold(text, |message, secret| message.replace(secret.as_str(), "<secret>"));
    let mut scrubbed = Error::new(error.kind(), message);
    if error.is_temporary() {
        scrubbed = scrubbed.temporary();
    }
    if let Some(after) = error.retry_after() {
        scrubbed = scrubbed.with_retry_after(after);
    }
    scrubbed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_taken_out_of_plugin_errors_and_the_rest_is_kept() {
        let error = Error::new(ErrorKind::Unauthenticated, "login as ada with hunter2 refused").temporary();
        let scrubbed = scrub(error, &["hunter2".to_owned()]);
        assert_eq!(scrubbed.to_string(), "login as ada with <secret> refused");
        assert!(scrubbed.is_temporary());
        assert_eq!(scrubbed.kind(), ErrorKind::Unauthenticated);
    }
}
