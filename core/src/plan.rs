//! Resolution: the sources the user wrote become the plan — the sources to export, as data
//! (`s3://` becomes one source per bucket) — and each planned source is then opened and
//! checked before anything is written. `sortie plan` prints the plan; `--plan FILE` exports
//! one printed earlier, which gives the same archive as the original sources.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::Context;
use sortie_sdk::source::SourceSpec;

use crate::error::{Error, ErrorKind, Result};
use crate::progress::{Event, ProgressSink};
use crate::registry::Registry;
use crate::retry::retry;
use crate::warning::Warning;

/// The version of the plan format this build writes and reads.
pub const PLAN_VERSION: u32 = 1;

/// A plan, as `sortie plan --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan format's version ([`PLAN_VERSION`]).
    pub sortie_plan: u32,
    /// The sources to export, in order. Secret settings are not in it: the run that
    /// exports the plan reads them again (environment, provider files, `--set`).
    pub sources: Vec<SourceSpec>,
}

/// A plan names one source per bucket or container: 64 MiB is a few hundred thousand.
const PLAN_MAX: u64 = 64 << 20;

impl Plan {
    /// Reads the plan file at `path`.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let fix = "print one with `sortie plan SOURCE... --json > FILE`";
        let text = crate::input::read_text(path, PLAN_MAX, "the plan", fix)?;
        Self::from_json(&text).map_err(|e| e.context(format!("plan {}", path.display())))
    }

    /// Reads a plan printed by `sortie plan --json`.
    pub fn from_json(text: &str) -> Result<Self> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("not a plan printed by `sortie plan --json`: {e}"))
        })?;
        if plan.sortie_plan != PLAN_VERSION {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "plan format {} is not one this sortie reads ({PLAN_VERSION}); print the plan again with this version",
                    plan.sortie_plan
                ),
            ));
        }
        Ok(plan)
    }
}

/// Leaves out a source planned again (the same URL with the same settings, given twice or
/// brought along by another, as a Swift container brings its versions container): its
/// items would be archived twice, under two ids. Warns about that, and about a source
/// inside another of the same scheme and settings, at a `/` (`s3://b` and `s3://b/p`, a
/// directory and one of its subdirectories, `swift://c` and `swift://c/p`), whose common
/// items are archived twice. A scheme's root (`swift://`, the account) contains no other
/// source.
pub fn check_overlaps(sources: &mut Vec<SourceSpec>) -> Vec<Warning> {
    type Place = (String, String, String);
    let place_of =
        |scheme: &str, path: &str, at: &str| -> Place { (scheme.to_owned(), path.to_owned(), at.to_owned()) };
    let mut warnings = Vec::new();
    let mut kept: Vec<SourceSpec> = Vec::with_capacity(sources.len());
    let mut by_place: std::collections::HashMap<Place, Vec<usize>> = Default::default();
    for spec in sources.drain(..) {
        let (path, at) = place(&spec.url);
        let same = by_place.entry(place_of(&spec.scheme, path, at)).or_default();
        if same.iter().any(|&i| kept[i].settings == spec.settings) {
            let message = format!("source {} is given twice: it is exported once", spec.url);
            warnings.push(Warning::new("duplicate_source", message));
            continue;
        }
        same.push(kept.len());
        kept.push(spec);
    }
    for spec in &kept {
        let (path, at) = place(&spec.url);
        for (end, _) in path.match_indices('/') {
            let Some(containing) = by_place.get(&place_of(&spec.scheme, &path[..end], at)) else { continue };
            for other in containing.iter().map(|&i| &kept[i]).filter(|other| other.settings == spec.settings) {
                warnings.push(Warning::new(
                    "overlapping_sources",
                    format!("source {} is inside source {}: what they share is archived twice", spec.url, other.url),
                ));
            }
        }
    }
    *sources = kept;
    warnings
}

/// A source URL as its path and where it is (`s3://b/p at https://host` → `s3://b/p`,
/// ` at https://host`), without a trailing `/`.
fn place(url: &str) -> (&str, &str) {
    let (path, at) = url.rfind(" at ").map_or((url, ""), |i| url.split_at(i));
    (if path.ends_with('/') && !path.ends_with("://") { &path[..path.len() - 1] } else { path }, at)
}

/// One planned source, opened.
#[derive(Clone)]
pub struct Source {
    /// What it is.
    pub spec: SourceSpec,
    /// Its provider, checked.
    pub provider: Arc<dyn Provider>,
}

/// Resolves the sources the user wrote into the plan. A temporary error (a 503 on the
/// bucket listing, a login refused for load) is retried like any request: the first request
/// of an export deserves the same patience as the millionth.
pub async fn resolve(
    registry: &Registry,
    written: &[SourceSpec],
    context: &Context,
    progress: &ProgressSink,
) -> Result<Plan> {
    let mut sources = Vec::with_capacity(written.len());
    for spec in written {
        let factory = registry.factory(&spec.scheme, &spec.url)?;
        let (resolved, _) =
            retry(&context.retry, on_retry(spec, progress, "expansion"), || factory.resolve(spec, context)).await;
        let resolved = resolved.map_err(|e| e.context(format!("source {}", spec.url)))?;
        tracing::info!(source = %spec.url, into = resolved.len(), "source resolved");
        sources.extend(resolved);
    }
    Ok(Plan { sortie_plan: PLAN_VERSION, sources })
}

/// Opens every planned source and checks it (that it exists and the credentials work),
/// before anything is written; says so for each ([`Event::SourceOpened`]), with the id the
/// archive will give it.
pub async fn open(registry: &Registry, plan: &Plan, context: &Context, progress: &ProgressSink) -> Result<Vec<Source>> {
    let mut schemes: Vec<&str> = plan.sources.iter().map(|s| s.scheme.as_str()).collect();
    schemes.sort_unstable();
    schemes.dedup();
    for scheme in schemes {
        registry.factory(scheme, scheme)?.check_plan(&plan.sources)?;
    }
    let mut opened = Vec::with_capacity(plan.sources.len());
    let mut ids = crate::engine::SourceIds::default();
    for spec in &plan.sources {
        let in_source = |e: Error| e.context(format!("source {}", spec.url));
        let factory = registry.factory(&spec.scheme, &spec.url)?;
        let provider = factory.open(spec, context).map_err(in_source)?;
        retry(&context.retry, on_retry(spec, progress, "check"), || provider.check()).await.0.map_err(in_source)?;
        tracing::info!(source = %spec.url, id = %spec.id, "source opened and checked");
        let (source, url, scheme) = (ids.next(&spec.id), spec.url.clone(), spec.scheme.clone());
        progress(Event::SourceOpened { source, url, scheme });
        opened.push(Source { spec: spec.clone(), provider });
    }
    Ok(opened)
}

/// Reports a retry of a source's `what` (check, expansion) as progress.
fn on_retry<'a>(spec: &'a SourceSpec, progress: &'a ProgressSink, what: &'a str) -> impl FnMut(u32, &Error) + 'a {
    move |retry, error| {
        let id = format!("{} {what}", spec.url);
        progress(Event::Retrying { id, retry, error: error.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use sortie_sdk::settings::Settings;

    use super::*;

    fn spec(scheme: &str, url: &str) -> SourceSpec {
        SourceSpec::new(scheme, url, "id", Settings::new())
    }

    #[test]
    fn a_source_given_twice_is_exported_once() {
        let mut sources = vec![spec("file", "file:///a"), spec("file", "file:///b"), spec("file", "file:///a/")];
        let warnings = check_overlaps(&mut sources);
        assert_eq!(sources, [spec("file", "file:///a"), spec("file", "file:///b")]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].message, "source file:///a/ is given twice: it is exported once");
        let mut elsewhere = vec![spec("s3", "s3://b at http://e"), spec("s3", "s3://b at http://f")];
        assert_eq!((check_overlaps(&mut elsewhere), elsewhere.len()), (vec![], 2));
    }

    #[test]
    fn a_source_inside_another_is_a_warning() {
        let mut sources = vec![
            spec("s3", "s3://b at http://e"),
            spec("s3", "s3://b/p/q at http://e"),
            spec("s3", "s3://b/p at http://other"),
            spec("file", "file:///"),
            spec("file", "file:///ab"),
            spec("file", "file:///a"),
            spec("swift", "swift://"),
            spec("swift", "swift://c"),
            spec("swift", "swift://c/p"),
        ];
        let messages: Vec<String> = check_overlaps(&mut sources).into_iter().map(|w| w.message).collect();
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(messages[0].starts_with("source s3://b/p/q at http://e is inside source s3://b at http://e"));
        assert!(messages[1].starts_with("source file:///ab is inside source file:///:"));
        assert!(messages[2].starts_with("source file:///a is inside source file:///:"));
        assert!(messages[3].starts_with("source swift://c/p is inside source swift://c:"), "not in swift://");
    }
}
