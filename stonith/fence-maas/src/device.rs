//! MAAS as a stonith-core power device: a plug is a machine, named the way
//! Pacemaker or the operator knows it (hostname, FQDN or system_id), and
//! resolved to its system_id once per session.

use std::collections::HashMap;

use stonith_core::{DeviceError, Outlet, PowerDevice, PowerState};
use umha_common::Deadline;

use crate::api::{ApiError, Maas, Machine, is_system_id, power_state};

/// A session with MAAS and the plugs it has resolved so far.
#[derive(Debug)]
pub struct MaasDevice {
    api: Maas,
    resolved: HashMap<String, String>,
}

impl MaasDevice {
    pub fn new(api: Maas) -> Self {
        Self {
            api,
            resolved: HashMap::new(),
        }
    }

    /// The system_id of `plug`: a machine whose hostname or FQDN is `plug`
    /// (case-insensitively, as DNS names compare), else the machine whose
    /// system_id it is (see [`pick`]).
    pub fn resolve(&mut self, plug: &str, deadline: Deadline) -> Result<String, ApiError> {
        let plug = plug.trim();
        if let Some(id) = self.resolved.get(plug) {
            return Ok(id.clone());
        }
        if plug.is_empty() {
            return Err(ApiError::NotFound("empty plug: name a MAAS machine".into()));
        }
        // MAAS filters on the short hostname, which it keeps in lower case;
        // the FQDN is checked here.
        let short = plug.split('.').next().unwrap_or(plug).to_ascii_lowercase();
        let candidates = self.api.machines(Some(&short), deadline)?;
        let id = match pick(plug, &candidates)? {
            Some(id) => id,
            None => self.by_system_id(plug, deadline)?,
        };
        log::debug!("plug {plug} is MAAS machine {id}");
        self.resolved.insert(plug.to_owned(), id.clone());
        Ok(id)
    }

    fn by_system_id(&self, plug: &str, deadline: Deadline) -> Result<String, ApiError> {
        let missing = || {
            ApiError::NotFound(format!(
                "no MAAS machine has the hostname, FQDN or system_id '{plug}'"
            ))
        };
        if !is_system_id(plug) {
            return Err(missing());
        }
        match self.api.machine(plug, deadline) {
            Ok(machine) if machine.system_id == plug => Ok(machine.system_id),
            Ok(_) | Err(ApiError::NotFound(_)) => Err(missing()),
            Err(other) => Err(other),
        }
    }

    fn target(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<String, DeviceError> {
        let plug = plug.ok_or_else(|| {
            DeviceError::NoSuchPlug("no plug: name the MAAS machine to fence".into())
        })?;
        Ok(self.resolve(plug, deadline)?)
    }
}

/// The one machine of `candidates` whose hostname or FQDN is `plug`; more
/// than one is an error, never a guess.
pub fn pick(plug: &str, candidates: &[Machine]) -> Result<Option<String>, ApiError> {
    let matches: Vec<&Machine> = candidates.iter().filter(|m| names(m, plug)).collect();
    match matches.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.system_id.clone())),
        many => Err(ApiError::Ambiguous {
            plug: plug.to_owned(),
            count: many.len(),
            ids: many
                .iter()
                .map(|m| m.system_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn names(machine: &Machine, plug: &str) -> bool {
    machine.hostname.eq_ignore_ascii_case(plug)
        || machine
            .fqdn
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case(plug))
}

impl PowerDevice for MaasDevice {
    fn status(
        &mut self,
        plug: Option<&str>,
        deadline: Deadline,
    ) -> Result<PowerState, DeviceError> {
        let id = self.target(plug, deadline)?;
        Ok(self.api.query_power_state(&id, deadline)?)
    }

    fn power_on(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        let id = self.target(plug, deadline)?;
        Ok(self.api.power_on(&id, deadline)?)
    }

    fn power_off(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        let id = self.target(plug, deadline)?;
        if self.api.config().stop_mode != "hard" {
            log::warn!(
                "stop_mode={}: MAAS asks the OS to shut down; a hung node never powers off",
                self.api.config().stop_mode
            );
        }
        Ok(self.api.power_off(&id, deadline)?)
    }

    /// Every machine, the hostname as the plug and the system_id as the
    /// alias, so both `pcmk_host_check=dynamic-list` with node names and a
    /// host map to system ids work. The state is MAAS's cached one: good
    /// for a listing, never used to fence.
    fn list(&mut self, with_status: bool, deadline: Deadline) -> Result<Vec<Outlet>, DeviceError> {
        let machines = self.api.machines(None, deadline)?;
        Ok(machines
            .into_iter()
            .map(|m| Outlet {
                plug: m.hostname,
                alias: Some(m.system_id),
                state: with_status.then(|| {
                    m.power_state
                        .as_deref()
                        .map_or(PowerState::Unknown, power_state)
                }),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str, hostname: &str, fqdn: &str) -> Machine {
        Machine {
            system_id: id.into(),
            hostname: hostname.into(),
            fqdn: Some(fqdn.into()),
            power_state: None,
        }
    }

    #[test]
    fn hostnames_and_fqdns_pick_one_machine() {
        let list = [
            machine("aaa111", "cmp1", "cmp1.maas"),
            machine("bbb222", "cmp1x", "cmp1x.maas"),
        ];
        assert_eq!(pick("cmp1", &list).unwrap().as_deref(), Some("aaa111"));
        assert_eq!(pick("CMP1.maas", &list).unwrap().as_deref(), Some("aaa111"));
        assert_eq!(pick("cmp1.other", &list).unwrap(), None);
        assert_eq!(
            pick("aaa111", &list).unwrap(),
            None,
            "system ids are looked up apart"
        );
    }

    #[test]
    fn two_matches_are_an_error_naming_both() {
        let list = [
            machine("aaa111", "cmp1", "cmp1.maas"),
            machine("bbb222", "cmp1", "cmp1.lab"),
        ];
        let err = pick("cmp1", &list).unwrap_err();
        assert!(matches!(err, ApiError::Ambiguous { count: 2, .. }));
        let text = DeviceError::from(err).to_string();
        assert!(
            text.contains("aaa111, bbb222") && text.contains("FQDN"),
            "{text}"
        );
        assert_eq!(pick("cmp1.lab", &list).unwrap().as_deref(), Some("bbb222"));
    }
}
