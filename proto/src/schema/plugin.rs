//! The plugin entity: which plugin, where it applies (service, route, consumer or globally), and
//! its config, checked and completed by the plugin's own schema in `plugins`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::entities::{
    check_name, default_plugin_protocols, one_of, yes, ForeignKey, ROUTE_PROTOCOLS,
};
use super::error::FieldError;
use super::plugins;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub instance_name: Option<String>,
    /// Shared: a config that carries an unchanged plugin over copies a pointer, not the tree.
    #[serde(default)]
    pub config: Arc<Value>,
    #[serde(default)]
    pub service: Option<ForeignKey>,
    #[serde(default)]
    pub route: Option<ForeignKey>,
    #[serde(default)]
    pub consumer: Option<ForeignKey>,
    #[serde(default = "default_plugin_protocols")]
    pub protocols: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Enterprise fields, refused by `validated` when set: ignoring them would change behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partials: Option<Value>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Plugin {
    /// Checks the plugin and its config, and returns it with every config default filled.
    pub fn validated(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errs = super::tags::check(&self.tags);
        for (field, set, what) in [
            (
                "consumer_group",
                self.consumer_group.is_some(),
                "consumer groups",
            ),
            (
                "ordering",
                self.ordering.is_some(),
                "dynamic plugin ordering",
            ),
            ("condition", self.condition.is_some(), "conditional plugins"),
            ("partials", self.partials.is_some(), "partials"),
        ] {
            if set {
                errs.push(FieldError::new(
                    field,
                    format!(
                        "{what} (a Kong Enterprise feature) are not supported by this gateway yet"
                    ),
                ));
            }
        }
        match plugins::PluginConfig::parse(&self.name, &self.config) {
            Ok(cfg) => {
                if self.consumer.is_some() && !cfg.allows_consumer_scope() {
                    errs.push(FieldError::new("consumer", "value must be null"));
                }
                self.config = Arc::new(cfg.to_value());
            }
            Err(e) => errs.extend(e),
        }
        for (i, p) in self.protocols.iter().enumerate() {
            if !ROUTE_PROTOCOLS.contains(&p.as_str()) && !matches!(p.as_str(), "ws" | "wss") {
                errs.push(one_of(&format!("protocols[{i}]"), ROUTE_PROTOCOLS));
            }
        }
        if let Some(name) = &self.instance_name {
            errs.extend(check_name("instance_name", name));
        }
        if errs.is_empty() {
            Ok(self)
        } else {
            Err(errs)
        }
    }
}
