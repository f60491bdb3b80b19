//! The parameters of one invocation, checked against the agent's table.
//!
//! Every declared parameter is checked up front, so `validate-all` (and any
//! action that needs the configuration) reports all mistakes at once, with
//! OCF_ERR_CONFIGURED. After that, typed access cannot fail on a value, only
//! on a programming mistake (asking for an undeclared name).

use std::collections::BTreeMap;
use std::time::Duration;

use umha_common::Secret;

use crate::value::{parse_boolean, parse_duration, parse_integer, parse_list};
use crate::{Env, OcfError, OcfResult, ParamSpec};

/// Parameter values of one invocation: what the administrator set, else the
/// literal default. An empty value counts as unset.
#[derive(Clone)]
pub struct Params {
    specs: &'static [ParamSpec],
    values: BTreeMap<&'static str, Value>,
}

#[derive(Clone)]
struct Value {
    text: String,
    explicit: bool,
}

impl Params {
    /// Read `OCF_RESKEY_<name>` for every declared parameter and check them
    /// all. Fails with OCF_ERR_CONFIGURED naming every problem.
    pub fn from_env(specs: &'static [ParamSpec], env: &Env) -> OcfResult<Params> {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for spec in specs {
            let given = env.reskey(spec.name).filter(|v| !v.trim().is_empty());
            let value = match (given, spec.default_value()) {
                (Some(text), _) => Some(Value {
                    text,
                    explicit: true,
                }),
                (None, Some(default)) => Some(Value {
                    text: default.to_owned(),
                    explicit: false,
                }),
                (None, None) => None,
            };
            match &value {
                None if spec.required => {
                    problems.push(format!("required parameter {} is not set", spec.name))
                }
                None => {}
                Some(v) => {
                    if let Err(problem) = spec.check(&v.text) {
                        problems.push(problem);
                    }
                }
            }
            if let Some(v) = value {
                values.insert(spec.name, v);
            }
        }
        if problems.is_empty() {
            Ok(Params { specs, values })
        } else {
            Err(OcfError::configured(problems.join("; ")))
        }
    }

    /// The value of `name` as `T`; use `Option<T>` for parameters that may be
    /// unset. Asking for an undeclared name is a bug and fails with
    /// OCF_ERR_GENERIC.
    pub fn get<T: FromParam>(&self, name: &str) -> OcfResult<T> {
        let spec = self.spec(name)?;
        T::from_param(spec, self.values.get(spec.name).map(|v| v.text.as_str()))
    }

    /// Whether the administrator set it (as opposed to a default applying).
    pub fn is_set(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v.explicit)
    }

    /// The text of a parameter, for messages. `None` for secrets and unset ones.
    pub fn display(&self, name: &str) -> Option<&str> {
        let spec = self.spec(name).ok()?;
        if spec.secret {
            return None;
        }
        self.values.get(name).map(|v| v.text.as_str())
    }

    fn spec(&self, name: &str) -> OcfResult<&'static ParamSpec> {
        self.specs.iter().find(|s| s.name == name).ok_or_else(|| {
            OcfError::generic(format!(
                "internal error: parameter {name} is not declared in the agent's table"
            ))
        })
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for spec in self.specs {
            if let Some(v) = self.values.get(spec.name) {
                if spec.secret {
                    map.entry(&spec.name, &"********");
                } else {
                    map.entry(&spec.name, &v.text);
                }
            }
        }
        map.finish()
    }
}

/// A Rust type a parameter value can be read as.
pub trait FromParam: Sized {
    /// `raw` is `None` when the parameter is unset and has no literal default.
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self>;
}

fn present<'a>(spec: &ParamSpec, raw: Option<&'a str>) -> OcfResult<&'a str> {
    raw.ok_or_else(|| OcfError::configured(format!("parameter {} is not set", spec.name)))
}

fn invalid(spec: &ParamSpec, raw: &str, expected: &str) -> OcfError {
    match spec.check(raw) {
        Err(msg) => OcfError::configured(msg),
        Ok(()) => OcfError::configured(if spec.secret {
            format!("parameter {}: the given value is not {expected}", spec.name)
        } else {
            format!(
                "parameter {}: '{}' is not {expected}",
                spec.name,
                raw.trim()
            )
        }),
    }
}

impl<T: FromParam> FromParam for Option<T> {
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        raw.map(|r| T::from_param(spec, Some(r))).transpose()
    }
}

impl FromParam for String {
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        present(spec, raw).map(str::to_owned)
    }
}

impl FromParam for Secret {
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        present(spec, raw).map(Secret::new)
    }
}

impl FromParam for bool {
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        let raw = present(spec, raw)?;
        parse_boolean(raw).ok_or_else(|| invalid(spec, raw, "a boolean"))
    }
}

impl FromParam for i64 {
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        let raw = present(spec, raw)?;
        parse_integer(raw).ok_or_else(|| invalid(spec, raw, "an integer"))
    }
}

macro_rules! narrow_integer {
    ($($t:ty),*) => {$(
        impl FromParam for $t {
            fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
                let wide = i64::from_param(spec, raw)?;
                <$t>::try_from(wide).map_err(|_| {
                    invalid(
                        spec,
                        raw.unwrap_or_default(),
                        concat!("an integer in the range of ", stringify!($t)),
                    )
                })
            }
        }
    )*};
}
narrow_integer!(i32, u16, u32, u64, usize);

impl FromParam for Duration {
    fn from_param(spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        let raw = present(spec, raw)?;
        parse_duration(raw).ok_or_else(|| invalid(spec, raw, "a duration"))
    }
}

impl FromParam for Vec<String> {
    fn from_param(_spec: &ParamSpec, raw: Option<&str>) -> OcfResult<Self> {
        Ok(raw.map(parse_list).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OcfStatus;
    use proptest::prelude::*;

    static SPECS: &[ParamSpec] = &[
        ParamSpec::string("name", "", "").required(),
        ParamSpec::integer("count", "", "")
            .default("3")
            .range(0, 10),
        ParamSpec::boolean("enabled", "", "").default("false"),
        ParamSpec::duration("wait", "", "").default("10s"),
        ParamSpec::list("hosts", "", ""),
        ParamSpec::string("password", "", "").secret(),
        ParamSpec::string("mode", "", "").choices(&["fast", "slow"]),
    ];

    fn params(pairs: &[(&str, &str)]) -> OcfResult<Params> {
        let env = Env::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        );
        Params::from_env(SPECS, &env)
    }

    #[test]
    fn typed_values_and_defaults() {
        let p = params(&[
            ("name", "x"),
            ("enabled", "yes"),
            ("hosts", "a,b c"),
            ("password", "pw"),
        ])
        .unwrap();
        assert_eq!(p.get::<String>("name").unwrap(), "x");
        assert_eq!(p.get::<i64>("count").unwrap(), 3);
        assert_eq!(p.get::<u32>("count").unwrap(), 3);
        assert!(p.get::<bool>("enabled").unwrap());
        assert_eq!(p.get::<Duration>("wait").unwrap(), Duration::from_secs(10));
        assert_eq!(p.get::<Vec<String>>("hosts").unwrap(), ["a", "b", "c"]);
        assert_eq!(p.get::<Secret>("password").unwrap().expose(), "pw");
        assert_eq!(p.get::<Option<String>>("mode").unwrap(), None);
        assert!(p.is_set("enabled"));
        assert!(!p.is_set("count"));
        assert!(!format!("{p:?}").contains("pw\""), "{p:?}");
        assert_eq!(p.display("password"), None);
    }

    #[test]
    fn unset_optional_without_default_is_an_error_only_for_plain_types() {
        let p = params(&[("name", "x")]).unwrap();
        let err = p.get::<String>("mode").unwrap_err();
        assert_eq!(err.status(), OcfStatus::ErrConfigured);
        assert!(p.get::<Vec<String>>("hosts").unwrap().is_empty());
    }

    #[test]
    fn empty_means_unset() {
        let err = params(&[("name", "  ")]).unwrap_err();
        assert_eq!(err.status(), OcfStatus::ErrConfigured);
        assert_eq!(err.reason(), "required parameter name is not set");
        let p = params(&[("name", "x"), ("count", "")]).unwrap();
        assert_eq!(p.get::<i64>("count").unwrap(), 3);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = params(&[
            ("count", "many"),
            ("enabled", "maybe"),
            ("wait", "10x"),
            ("mode", "medium"),
        ])
        .unwrap_err();
        assert_eq!(err.status(), OcfStatus::ErrConfigured);
        let r = err.reason();
        assert!(r.contains("required parameter name is not set"), "{r}");
        assert!(
            r.contains("parameter count: 'many' is not an integer"),
            "{r}"
        );
        assert!(
            r.contains("parameter enabled: 'maybe' is not a boolean"),
            "{r}"
        );
        assert!(r.contains("parameter wait: '10x' is not a duration"), "{r}");
        assert!(
            r.contains("parameter mode: 'medium' is not one of fast, slow"),
            "{r}"
        );
    }

    #[test]
    fn out_of_range_and_narrowing() {
        let err = params(&[("name", "x"), ("count", "11")]).unwrap_err();
        assert!(
            err.reason().contains("between 0 and 10"),
            "{}",
            err.reason()
        );
        let p = params(&[("name", "x"), ("count", "-1")]);
        assert!(p.is_err());
    }

    #[test]
    fn undeclared_names_are_bugs_not_config_errors() {
        let p = params(&[("name", "x")]).unwrap();
        assert_eq!(
            p.get::<String>("nope").unwrap_err().status(),
            OcfStatus::ErrGeneric
        );
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(
            values in proptest::collection::vec(any::<String>(), SPECS.len())
        ) {
            let pairs: Vec<(&str, &str)> = SPECS
                .iter()
                .zip(values.iter())
                .map(|(s, v)| (s.name, v.as_str()))
                .collect();
            match params(&pairs) {
                Ok(p) => {
                    let _ = p.get::<String>("name");
                    let _ = p.get::<i64>("count");
                    let _ = p.get::<u16>("count");
                    let _ = p.get::<bool>("enabled");
                    let _ = p.get::<Duration>("wait");
                    let _ = p.get::<Vec<String>>("hosts");
                    let _ = p.get::<Option<String>>("mode");
                    let _ = format!("{p:?}");
                }
                Err(e) => prop_assert_eq!(e.status(), OcfStatus::ErrConfigured),
            }
        }
    }
}
