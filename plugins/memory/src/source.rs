//! The factory: `memory://NAME` sources.

use std::sync::Arc;

use sortie_sdk::Result;
use sortie_sdk::provider::Provider;
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;

use crate::provider::MemoryProvider;
use crate::settings::{MemorySettings, source_id, specs};

/// Opens `memory://` sources.
#[derive(Debug)]
pub struct MemoryFactory;

impl ProviderFactory for MemoryFactory {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            "memory",
            "synthetic data generated on demand, the same for the same settings: try sortie or measure it without a server or a disk",
            "memory://demo --set items=50 --set size=1000000",
            specs(),
        )
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        let parsed = MemorySettings::read(url, &settings)?;
        Ok(SourceSpec::new("memory", format!("memory://{}", parsed.name), source_id(&parsed.name), settings))
    }

    fn open(&self, source: &SourceSpec, _context: &Context) -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(MemoryProvider::from_spec(source)?))
    }
}

#[cfg(test)]
mod tests {
    use sortie_sdk::ErrorKind;

    use super::*;

    fn settings(sets: &[(&str, &str)]) -> Settings {
        let info = MemoryFactory.info();
        let mut settings = Settings::new();
        for (name, value) in sets {
            settings.set(info.setting(name).unwrap(), value).unwrap();
        }
        settings
    }

    #[test]
    fn a_source_is_named_by_its_url_and_archived_under_its_slug() {
        let spec = MemoryFactory.source("memory://Demo Set", settings(&[("items", "50")])).unwrap();
        assert_eq!(
            (spec.scheme.as_str(), spec.url.as_str(), spec.id.as_str()),
            ("memory", "memory://Demo Set", "mem-demo-set")
        );
        assert_eq!(spec.settings.integer("items"), Some(50));
        let back: SourceSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn unusable_sources_are_refused_saying_what_to_write() {
        for url in ["memory://", "memory://---", "s3://bucket"] {
            let error = MemoryFactory.source(url, Settings::new()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            assert!(error.to_string().contains("memory://NAME"), "{error}");
        }
        for (name, value) in [("page_size", "0"), ("max_concurrency", "0")] {
            let error = MemoryFactory.source("memory://demo", settings(&[(name, value)])).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn settings_reach_the_capabilities() {
        let context = Context::default();
        let plain =
            MemoryFactory.open(&MemoryFactory.source("memory://a", Settings::new()).unwrap(), &context).unwrap();
        assert_eq!(plain.capabilities(), sortie_sdk::provider::Capabilities::default().with_resumable_cursors());
        let spec = MemoryFactory.source("memory://b", settings(&[("flat", "yes"), ("max_concurrency", "3")])).unwrap();
        let capabilities = MemoryFactory.open(&spec, &context).unwrap().capabilities();
        assert!(capabilities.flat_namespace && !capabilities.local);
        assert_eq!(capabilities.max_concurrency, Some(3));
    }
}
