//! The factory: `file:///path` sources and plain paths.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::{SourceSpec, slug};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::provider::FsProvider;
use crate::settings::{FsSettings, specs};

/// Opens `file://` sources and plain paths.
#[derive(Debug)]
pub struct FsFactory;

impl ProviderFactory for FsFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "file",
            "a local directory tree (files, empty directories; symlinks recorded, not followed)",
            "examples/sample-tenant",
            specs(),
        )
        .with_example("file:///srv/export")
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        let path = match url.split_once("://") {
            Some((_, rest)) => {
                if !rest.starts_with('/') {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("'{url}' is not a local file URL: write file:///absolute/path or a plain path"),
                    ));
                }
                PathBuf::from(rest)
            }
            None => PathBuf::from(url),
        };
        // The directory as the report shows it: canonical when it exists, else absolute (the
        // check then says it does not exist), so that the description opens from anywhere.
        let canonical = path.canonicalize().ok();
        let absolute = std::path::absolute(&path)
            .map_err(|e| Error::io(format!("cannot make {} an absolute path", path.display()), &e))?;
        let shown = canonical.as_deref().unwrap_or(&absolute);
        Ok(SourceSpec::new("file", format!("file://{}", shown.display()), source_id(canonical.as_deref()), settings))
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        let settings = FsSettings::of(source)?;
        Ok(Arc::new(FsProvider::new(settings.root, settings.follow_symlinks, &context.exclude)))
    }
}

/// `fs-` and the directory's name, `fs-root` for `/`.
fn source_id(canonical: Option<&Path>) -> String {
    let name = canonical.and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let slug = slug(&name);
    if slug.is_empty() { "fs-root".to_owned() } else { format!("fs-{slug}") }
}
