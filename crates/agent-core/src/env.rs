//! Where an agent's inputs come from.
//!
//! Everything Pacemaker tells an agent arrives in environment variables. Going
//! through this one value instead of `std::env` lets every action be run in a
//! unit test with a made-up environment, without a cluster.

use std::collections::BTreeMap;
use std::fmt;

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The agent's environment, as a lookup function.
pub struct Env {
    lookup: Box<Lookup>,
}

impl Env {
    /// The process environment. Values that are not UTF-8 are converted
    /// lossily, so validation reports them instead of treating them as unset.
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// A fixed set of variables, for tests and tools.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }

    /// Any variable.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// A variable, with an empty (or blank) value treated as unset, the way
    /// `${VAR:-default}` does in the shell agents.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.trim().is_empty())
    }

    /// Parameter `name`, from `OCF_RESKEY_<name>`.
    pub fn reskey(&self, name: &str) -> Option<String> {
        self.var(&format!("OCF_RESKEY_{name}"))
    }

    /// Meta attribute `name`, from `OCF_RESKEY_CRM_meta_<name>`, empty as unset.
    pub fn meta(&self, name: &str) -> Option<String> {
        self.non_empty(&format!("OCF_RESKEY_CRM_meta_{name}"))
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The environment may hold secrets; never print it.
        f.write_str("Env { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reskey_and_meta_prefixes() {
        let env = Env::from_pairs([
            ("OCF_RESKEY_state", "/tmp/x"),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
            ("OCF_RESKEY_CRM_meta_on_node", " "),
        ]);
        assert_eq!(env.reskey("state").as_deref(), Some("/tmp/x"));
        assert_eq!(env.meta("interval").as_deref(), Some("0"));
        assert_eq!(env.meta("on_node"), None);
        assert_eq!(env.var("PATH"), None);
        assert_eq!(format!("{env:?}"), "Env { .. }");
    }
}
