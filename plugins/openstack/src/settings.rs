//! What the `swift` and `openstack` providers take: the settings schema, and one source's
//! settings read into a typed struct. Where the credentials themselves come from
//! (`clouds.yaml`, `OS_*`, `ST_*`) is `credentials`; a secret given as a setting takes
//! precedence over the one found there.

use std::time::SystemTime;

use sortie_sdk::settings::{SettingSpec, Settings};
use sortie_sdk::{Error, ErrorKind, Result};

use crate::credentials::Secret;

/// Swift's own maximum for `limit`.
pub const MAX_PAGE: u64 = 10_000;

/// The variables read for the credentials when no cloud is named, as an openrc file and
/// python-swiftclient set them.
const IDENTITY_ENV: &[&str] = &[
    "OS_CLOUD",
    "OS_CLIENT_CONFIG_FILE",
    "OS_AUTH_URL",
    "OS_AUTH_TYPE",
    "OS_IDENTITY_API_VERSION",
    "OS_USERNAME",
    "OS_USER_ID",
    "OS_PROJECT_NAME",
    "OS_TENANT_NAME",
    "OS_PROJECT_ID",
    "OS_TENANT_ID",
    "OS_USER_DOMAIN_NAME",
    "OS_USER_DOMAIN_ID",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_ID",
    "OS_DOMAIN_NAME",
    "OS_DOMAIN_ID",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_NAME",
    "OS_CACERT",
    "ST_AUTH",
    "ST_USER",
];

/// The settings of `swift://` sources.
pub fn swift_specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(
            "cloud",
            "The clouds.yaml cloud to take the credentials from (searched like openstacksdk: \
             OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack, /etc/openstack; secure.yaml \
             merged over it). Without it: ST_AUTH, ST_USER and ST_KEY for Swift's own v1 \
             authentication, else the OS_* variables of an openrc file.",
        )
        .flag("--os-cloud")
        .env(IDENTITY_ENV),
        SettingSpec::text("region", "The catalog region to take endpoints from, over the cloud's or openrc's.")
            .flag("--os-region")
            .env(&["OS_REGION_NAME"]),
        SettingSpec::text("interface", "The catalog interface: public (the default), internal or admin.")
            .flag("--os-interface")
            .env(&["OS_INTERFACE", "OS_ENDPOINT_TYPE"]),
        SettingSpec::bool(
            "include_segments",
            "Archive every segment of the large objects in their segment containers too, not only \
             the large objects assembled.",
        )
        .flag("--include-segments"),
        SettingSpec::bool(
            "current_only",
            "Only the current objects, not the earlier versions of a versioned container.",
        )
        .flag("--current-only"),
        SettingSpec::integer("page_size", "Objects asked for per container listing request (1 to 10000).")
            .default_value(MAX_PAGE)
            .flag("--list-page-size"),
        SettingSpec::text(
            "segments_of",
            "For a segment container: the container whose large objects use it. The segments those \
             large objects reference (SLO manifests, DLO prefixes) are left out, being archived there \
             assembled; a manifest in any other container leaves its segments archived. Set by \
             resolution: swift:// and openstack:// set it for each X_segments (or X+segments) container \
             whose X they export too. Given by hand (--set segments_of=X), the plan must export \
             container X whole, at the same account, or it is refused.",
        ),
        SettingSpec::text(
            "resolved_at",
            "Set by resolution, with segments_of: when the source was resolved (RFC 3339). Only segments \
             of large objects last modified before it are left out; newer ones stay archived.",
        ),
        SettingSpec::text("password", "The password (or tempauth key), over OS_PASSWORD, the cloud's or ST_KEY.")
            .secret()
            .env(&["OS_PASSWORD", "ST_KEY"]),
        SettingSpec::text(
            "application_credential_secret",
            "The application credential's secret, over OS_APPLICATION_CREDENTIAL_SECRET or the cloud's.",
        )
        .secret()
        .env(&["OS_APPLICATION_CREDENTIAL_SECRET"]),
        SettingSpec::text("token", "An existing Keystone token, over OS_TOKEN or the cloud's.")
            .secret()
            .env(&["OS_TOKEN", "OS_AUTH_TOKEN"]),
    ]
}

/// The settings of `openstack://` sources: those of `swift://`, and volume data.
pub fn openstack_specs() -> Vec<SettingSpec> {
    let mut specs = swift_specs();
    specs.push(
        SettingSpec::bool(
            "include_volume_data",
            "Archive every available or attached Cinder volume's data too, through a temporary \
             Glance image (Cinder's upload-to-image), deleted once read.",
        )
        .flag("--include-volume-data"),
    );
    specs
}

/// One source's settings, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSettings {
    pub cloud: Option<String>,
    pub region: Option<String>,
    pub interface: Option<String>,
    pub include_segments: bool,
    pub include_volume_data: bool,
    pub current_only: bool,
    pub page_size: u32,
    pub segments_of: Option<String>,
    pub resolved_at: Option<SystemTime>,
    pub password: Option<Secret>,
    pub application_credential_secret: Option<Secret>,
    pub token: Option<Secret>,
}

impl Default for SourceSettings {
    fn default() -> Self {
        Self::read(&Settings::new()).expect("no settings are valid settings")
    }
}

impl SourceSettings {
    /// Reads the values given (already type-checked by the host) and checks their ranges.
    pub fn read(settings: &Settings) -> Result<Self> {
        let text = |name: &str| settings.text(name).filter(|v| !v.is_empty()).map(str::to_owned);
        let page_size = settings.integer("page_size").unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&page_size) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("--list-page-size {page_size} is out of Swift's range (1 to {MAX_PAGE})"),
            ));
        }
        let resolved_at = text("resolved_at")
            .map(|at| {
                humantime::parse_rfc3339_weak(&at).map_err(|e| {
                    Error::new(ErrorKind::InvalidInput, format!("resolved_at '{at}' is not an RFC 3339 time: {e}"))
                })
            })
            .transpose()?;
        Ok(Self {
            cloud: text("cloud"),
            region: text("region"),
            interface: text("interface"),
            include_segments: settings.is_on("include_segments"),
            include_volume_data: settings.is_on("include_volume_data"),
            current_only: settings.is_on("current_only"),
            page_size: u32::try_from(page_size).expect("checked above"),
            segments_of: text("segments_of"),
            resolved_at,
            password: text("password").map(Secret::new),
            application_credential_secret: text("application_credential_secret").map(Secret::new),
            token: text("token").map(Secret::new),
        })
    }
}

/// `settings` reduced to what `swift://` takes: the settings of an `openstack://` source
/// given to its Swift parts.
pub fn for_swift(settings: &Settings) -> Result<Settings> {
    let mut kept = Settings::new();
    for spec in swift_specs() {
        if let Some(text) = settings.text(&spec.name) {
            kept.set(&spec, text)?;
        } else if let Some(number) = settings.integer(&spec.name) {
            kept.set_value(&spec, number.into())?;
        } else if settings.contains(&spec.name) {
            kept.set_value(&spec, settings.is_on(&spec.name).into())?;
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Settings {
        let specs = openstack_specs();
        let mut settings = Settings::new();
        for (name, value) in pairs {
            settings.set(specs.iter().find(|s| s.name == *name).unwrap(), value).unwrap();
        }
        settings
    }

    #[test]
    fn every_documented_flag_spells_a_setting() {
        let specs = openstack_specs();
        for flag in [
            "--os-cloud",
            "--os-region",
            "--os-interface",
            "--include-segments",
            "--include-volume-data",
            "--current-only",
            "--list-page-size",
        ] {
            assert!(specs.iter().any(|s| s.flag.as_deref() == Some(flag)), "{flag}");
        }
        assert!(!swift_specs().iter().any(|s| s.name == "include_volume_data"));
        let secrets: Vec<&str> = specs.iter().filter(|s| s.secret).map(|s| s.name.as_str()).collect();
        assert_eq!(secrets, ["password", "application_credential_secret", "token"]);
    }

    #[test]
    fn values_are_read_typed_and_page_sizes_checked() {
        let settings =
            SourceSettings::read(&given(&[("cloud", "ovh"), ("page_size", "500"), ("current_only", "yes")])).unwrap();
        assert_eq!((settings.cloud.as_deref(), settings.page_size, settings.current_only), (Some("ovh"), 500, true));
        assert_eq!(SourceSettings::default().page_size, 10_000);
        let error = SourceSettings::read(&given(&[("page_size", "20000")])).unwrap_err();
        assert!(error.to_string().contains("out of Swift's range"), "{error}");
    }

    #[test]
    fn swift_parts_keep_every_swift_setting_secrets_included() {
        let settings = given(&[
            ("cloud", "ovh"),
            ("include_volume_data", "true"),
            ("include_segments", "true"),
            ("page_size", "7"),
            ("password", "hunter2"),
        ]);
        let swift = for_swift(&settings).unwrap();
        assert!(!swift.contains("include_volume_data"));
        assert!(swift.is_on("include_segments"));
        assert_eq!((swift.text("cloud"), swift.integer("page_size")), (Some("ovh"), Some(7)));
        assert_eq!(swift.text("password"), Some("hunter2"));
        let typed = SourceSettings::read(&swift).unwrap();
        assert_eq!(typed.password, Some(Secret::new("hunter2")));
        for rendering in [format!("{swift:?}"), format!("{typed:?}"), serde_json::to_string(&swift).unwrap()] {
            assert!(!rendering.contains("hunter2"), "{rendering}");
        }
    }
}
