//! A plugin's provider as a [`ProviderFactory`]: each method is one call into the plugin,
//! its arguments and answer as JSON.

use std::ffi::c_void;
use std::sync::Arc;

use async_trait::async_trait;
use sortie_plugin_abi::{SortieBuf, SortieStr};
use sortie_sdk::Result;
use sortie_sdk::provider::{Capabilities, Provider};
use sortie_sdk::registry::{Context, ProviderFactory, ProviderInfo};
use sortie_sdk::settings::Settings;
use sortie_sdk::source::SourceSpec;
use sortie_sdk::wire::{ContextWire, SettingsWire, SourceWire};

use super::Plugin;
use super::call::{self, TimedOut};
use super::load::Table;
use super::provider::{PluginProvider, SourceHandle};

pub struct PluginFactory {
    plugin: Arc<Plugin>,
    info: ProviderInfo,
}

impl PluginFactory {
    pub fn new(plugin: Arc<Plugin>, info: ProviderInfo) -> Self {
        Self { plugin, info }
    }

    /// A source the plugin described, checked to be of this provider.
    fn spec(&self, call: &str, bytes: &[u8]) -> Result<SourceSpec> {
        let mut wire = call::decode::<SourceWire>(&self.plugin, call, bytes)?;
        // A setting the provider's schema says is secret stays secret whatever the plugin's
        // answer lists: else a plugin that forgets `"secret"` puts a password in the plan.
        let schema_secrets = self.info.settings.iter().filter(|setting| setting.secret);
        wire.secret.extend(schema_secrets.filter(|s| wire.settings.contains_key(&s.name)).map(|s| s.name.clone()));
        let spec = SourceSpec::from(wire);
        if spec.scheme != self.info.scheme {
            let what = format!("described a source of scheme '{}' for a '{}' source", spec.scheme, self.info.scheme);
            return Err(call::broken(&self.plugin, call, what));
        }
        Ok(spec)
    }

    /// Runs a call of the trait's synchronous methods on a thread of its own.
    fn sync_call(
        &self,
        name: &str,
        work: impl FnOnce(Table, *mut SortieBuf) -> i32 + Send + 'static,
    ) -> Result<Vec<u8>> {
        let table = self.plugin.table;
        let answer = call::blocking(self.plugin.timeout, move || call::answer(&table, |out| work(table, out)))
            .map_err(|TimedOut| call::timed_out(&self.plugin, name))?;
        call::outcome(&self.plugin, name, answer)
    }
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("the contract's types serialize")
}

#[async_trait]
impl ProviderFactory for PluginFactory {
    fn info(&self) -> ProviderInfo {
        self.info.clone()
    }

    fn source(&self, url: &str, settings: Settings) -> Result<SourceSpec> {
        let secrets = call::secrets_of(&SourceSpec::new(&self.info.scheme, url, "", settings.clone()));
        let (scheme, url, settings) =
            (self.info.scheme.clone(), url.to_owned(), to_json(&SettingsWire::from(&settings)));
        let bytes = self
            .sync_call("source", move |table, out| {
                // SAFETY: the table's function, with arguments valid for the call.
                unsafe {
                    (table.source)(
                        SortieStr::of(scheme.as_bytes()),
                        SortieStr::of(url.as_bytes()),
                        SortieStr::of(&settings),
                        out,
                    )
                }
            })
            .map_err(|e| call::scrub(e, &secrets))?;
        self.spec("source", &bytes)
    }

    async fn resolve(&self, source: &SourceSpec, context: &Context) -> Result<Vec<SourceSpec>> {
        let secrets = call::secrets_of(source);
        let (spec, context) = (to_json(&SourceWire::from(source)), to_json(&ContextWire::from(context)));
        let table = self.plugin.table;
        let answer = call::off_runtime(self.plugin.timeout, move || {
            // SAFETY: the table's function, with arguments valid for the call.
            call::answer(&table, |out| unsafe { (table.resolve)(SortieStr::of(&spec), SortieStr::of(&context), out) })
        })
        .await
        .map_err(|TimedOut| call::timed_out(&self.plugin, "resolve"))?;
        let bytes = call::outcome(&self.plugin, "resolve", answer).map_err(|e| call::scrub(e, &secrets))?;
        let wires: Vec<serde_json::Value> = call::decode(&self.plugin, "resolve", &bytes)?;
        wires.into_iter().map(|wire| self.spec("resolve", &to_json(&wire))).collect()
    }

    fn check_plan(&self, plan: &[SourceSpec]) -> Result<()> {
        let secrets: Vec<String> = plan.iter().flat_map(call::secrets_of).collect();
        let wires: Vec<SourceWire> = plan.iter().map(SourceWire::from).collect();
        let (scheme, plan) = (self.info.scheme.clone(), to_json(&wires));
        self.sync_call("check_plan", move |table, out| {
            // SAFETY: the table's function, with arguments valid for the call.
            unsafe { (table.check_plan)(SortieStr::of(scheme.as_bytes()), SortieStr::of(&plan), out) }
        })
        .map(drop)
        .map_err(|e| call::scrub(e, &secrets))
    }

    fn open(&self, source: &SourceSpec, context: &Context) -> Result<Arc<dyn Provider>> {
        let secrets: Arc<[String]> = call::secrets_of(source).into();
        let (spec, context) = (to_json(&SourceWire::from(source)), to_json(&ContextWire::from(context)));
        let table = self.plugin.table;
        let opened = call::blocking(self.plugin.timeout, move || {
            let mut handle: *mut c_void = std::ptr::null_mut();
            // SAFETY: the table's function, with arguments valid for the call.
            let answer = call::answer(&table, |out| unsafe {
                (table.open)(SortieStr::of(&spec), SortieStr::of(&context), &mut handle, out)
            });
            let handle = if answer.succeeded() { SourceHandle::new(table, handle) } else { None };
            (answer, handle)
        });
        let (answer, handle) = opened.map_err(|TimedOut| call::timed_out(&self.plugin, "open"))?;
        let bytes = call::outcome(&self.plugin, "open", answer).map_err(|e| call::scrub(e, &secrets))?;
        let handle = handle.ok_or_else(|| call::broken(&self.plugin, "open", "succeeded without a handle".into()))?;
        let mut capabilities: Capabilities = call::decode(&self.plugin, "open", &bytes)?;
        // The C ABI carries one stream per body and no byte ranges: a plugin's body is read
        // as one stream whatever its provider could do.
        capabilities.ranged_reads = false;
        Ok(Arc::new(PluginProvider::new(self.plugin.clone(), handle, capabilities, secrets)))
    }
}
