//! Go objects templates see: `.Capabilities` (with `KubeVersion`, `APIVersions`,
//! `HelmVersion`) and `.Files`.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Object, Value};

use crate::glob::files_glob_match;

/// `chartutil.KubeVersion`.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeVersion {
    /// `v1.36.0`.
    pub version: String,
    /// `1`.
    pub major: String,
    /// `20`.
    pub minor: String,
}

impl KubeVersion {
    /// Parses `1.20.0` / `v1.20` as Helm's `ParseKubeVersion` (semver, normalised with `v`).
    pub fn parse(s: &str) -> Option<KubeVersion> {
        let v = crate::semver::Version::parse(s)?;
        let mut version = format!("v{}.{}.{}", v.major, v.minor, v.patch);
        if !v.pre.is_empty() {
            version.push('-');
            version.push_str(&v.pre);
        }
        Some(KubeVersion {
            version,
            major: v.major.to_string(),
            minor: v.minor.to_string(),
        })
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "chartutil.KubeVersion".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" | "GitVersion" | "String" => Some(Value::str(&self.version)),
            "Major" => Some(Value::str(&self.major)),
            "Minor" => Some(Value::str(&self.minor)),
            _ => None,
        }
    }
    fn format(&self) -> String {
        self.version.clone()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `chartutil.VersionSet`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSet(pub Vec<String>);

impl Object for VersionSet {
    fn type_name(&self) -> String {
        "chartutil.VersionSet".into()
    }
    fn kind(&self) -> &'static str {
        "slice"
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Has" => Some(match args {
                [Value::String(s)] => Ok(Value::Bool(self.0.iter().any(|x| x == &**s))),
                [other] => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )),
                _ => Err(format!(
                    "wrong number of args for Has: want 1 got {}",
                    args.len()
                )),
            }),
            _ => None,
        }
    }
    fn format(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn reflect(&self) -> Option<Value> {
        Some(Value::list(self.0.iter().map(Value::str).collect()))
    }
    fn to_json_value(&self) -> Option<Value> {
        self.reflect()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `chartutil.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// `.Capabilities.KubeVersion`.
    pub kube_version: Arc<KubeVersion>,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Arc<VersionSet>,
    /// `.Capabilities.HelmVersion.Version`.
    pub helm_version: String,
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*chartutil.Capabilities".into()
    }
    fn kind(&self) -> &'static str {
        "ptr"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::Object(self.kube_version.clone())),
            "APIVersions" => Some(Value::Object(self.api_versions.clone())),
            "HelmVersion" => Some(Value::map([
                ("Version", Value::str(&self.helm_version)),
                ("GitCommit", Value::str("")),
                ("GitTreeState", Value::str("")),
                ("GoVersion", Value::str("go1.24")),
            ])),
            _ => None,
        }
    }
    fn format(&self) -> String {
        format!(
            "&{{{} {} {{{} {} {} go1.24}}}}",
            self.kube_version.version,
            self.api_versions.format(),
            self.helm_version,
            "",
            ""
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The group/versions `helm template` v3.22 assumes without a cluster (its client-go scheme
/// plus apiextensions), in the order it lists them (`.Capabilities.APIVersions` is ordered).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "lifecycle.k8s.io/v1alpha1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `.Files`: the chart's non-template files (Helm's `engine.files`, a `map[string][]byte`).
#[derive(Debug, Clone, Default)]
pub struct Files(pub Arc<BTreeMap<String, Arc<[u8]>>>);

impl Files {
    fn get_bytes(&self, name: &str) -> Option<&Arc<[u8]>> {
        self.0.get(name)
    }

    fn as_yaml_map(&self, f: impl Fn(&[u8]) -> String) -> String {
        let mut m = BTreeMap::new();
        for (k, v) in self.0.iter() {
            let base = k.rsplit('/').next().unwrap_or(k).to_string();
            m.insert(base, Value::str(f(v)));
        }
        let v = Value::Map(gotemplate::Map::from_btree(m));
        crate::yaml::to_yaml(&v)
            .map(|s| s.trim_end_matches('\n').to_string())
            .unwrap_or_default()
    }
}

fn one_string<'a>(name: &str, args: &'a [Value]) -> Result<&'a str, String> {
    match args {
        [Value::String(s)] => Ok(s),
        [other] => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
        _ => Err(format!(
            "wrong number of args for {name}: want 1 got {}",
            args.len()
        )),
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".into()
    }
    fn kind(&self) -> &'static str {
        "map"
    }
    fn field(&self, name: &str) -> Option<Value> {
        // Go map semantics for a missing method name: the entry (or zero value).
        match name {
            "Get" | "GetBytes" | "Glob" | "Lines" | "AsConfig" | "AsSecrets" => None,
            _ => Some(
                self.get_bytes(name)
                    .map(|b| Value::Bytes(b.clone()))
                    .unwrap_or(Value::Nil),
            ),
        }
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        Some(match name {
            "Get" => one_string(name, args).map(|p| {
                Value::str(
                    self.get_bytes(p)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default(),
                )
            }),
            "GetBytes" => one_string(name, args).map(|p| {
                self.get_bytes(p)
                    .map(|b| Value::Bytes(b.clone()))
                    .unwrap_or(Value::Bytes(Arc::from(Vec::new())))
            }),
            "Glob" => one_string(name, args).map(|pat| {
                let m: BTreeMap<String, Arc<[u8]>> = self
                    .0
                    .iter()
                    .filter(|(k, _)| files_glob_match(pat, k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::Object(Arc::new(Files(Arc::new(m))))
            }),
            "Lines" => one_string(name, args).map(|p| match self.get_bytes(p) {
                None => Value::list(Vec::new()),
                Some(b) if b.is_empty() => Value::list(Vec::new()),
                Some(b) => {
                    let s = String::from_utf8_lossy(b);
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    Value::list(s.split('\n').map(Value::str).collect())
                }
            }),
            "AsConfig" => Ok(Value::str(
                self.as_yaml_map(|b| String::from_utf8_lossy(b).into_owned()),
            )),
            "AsSecrets" => Ok(Value::str(self.as_yaml_map(crate::funcs::base64_encode))),
            _ => return None,
        })
    }
    fn format(&self) -> String {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(|b| b.to_string()).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", items.join(" "))
    }
    fn truthy(&self) -> bool {
        !self.0.is_empty()
    }
    fn reflect(&self) -> Option<Value> {
        Some(Value::Map(gotemplate::Map::from_btree(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::Bytes(v.clone())))
                .collect(),
        )))
    }
    fn to_json_value(&self) -> Option<Value> {
        self.reflect()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
