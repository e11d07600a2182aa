//! Progress on stderr: a bar on a terminal, nothing when piped (but failures always).

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use sortie_core::progress::{Event, ProgressSink};

/// A sink that draws a bar when stderr is a terminal and `enabled`.
pub fn sink(enabled: bool) -> (ProgressSink, ProgressBar) {
    let bar = if enabled && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} archived ({bytes_per_sec})  {msg}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let shown = bar.clone();
    let sink: ProgressSink = Arc::new(move |event| match event {
        Event::Listed { source, items, bytes } => {
            shown.set_message(format!("listing {source}: {items} items, {}", indicatif::HumanBytes(bytes)));
        }
        Event::ListingDone { bytes, .. } => {
            shown.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .expect("valid template"),
            );
            shown.set_length(bytes);
            shown.set_message("");
        }
        Event::Archived { bytes } => shown.inc(bytes),
        Event::Failed { id, error } => shown.suspend(|| tracing::warn!("failed: {id}: {error}")),
        Event::Retrying { id, retry, error } => tracing::info!("retry {retry} of {id}: {error}"),
        Event::Finishing => shown.set_message("writing manifests"),
    });
    (sink, bar)
}
