//! Migration records, and the pre-check that makes evacuation exactly-once.
//!
//! Every evacuate creates a migration record (type `evacuation`, source =
//! the failed host) with status `accepted`; it goes on to `done` when the
//! instance is rebuilt elsewhere, `completed` when the source nova-compute
//! restarts and cleans up, or `failed`/`error`. Together with the server's
//! own task state this tells whether an instance was never evacuated, is
//! being evacuated, or is finished, which is what [`EvacuationStatus`] says.
//! An evacuator that crashed half-way and restarts on another controller
//! asks this before every evacuate, and so never issues a second one.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use umha_common::Deadline;

use crate::compute::{Compute, Link, decode, has_next};
use crate::error::{Result, bounded};
use crate::server::Server;

/// One row of `GET /os-migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Migration {
    pub id: i64,
    /// 2.59+.
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub instance_uuid: Option<String>,
    #[serde(default)]
    pub status: String,
    /// `evacuation`, `live-migration`, ... (2.23+).
    #[serde(default)]
    pub migration_type: Option<String>,
    #[serde(default)]
    pub source_compute: Option<String>,
    #[serde(default)]
    pub dest_compute: Option<String>,
    #[serde(default)]
    pub source_node: Option<String>,
    #[serde(default)]
    pub dest_node: Option<String>,
    #[serde(default)]
    pub dest_host: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// What a migration status means for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    InProgress,
    /// `done` (rebuilt elsewhere) or `completed` (source cleaned up too).
    Succeeded,
    Failed,
}

impl Migration {
    pub fn phase(&self) -> Phase {
        match self.status.as_str() {
            "done" | "completed" | "confirmed" | "finished" => Phase::Succeeded,
            "failed" | "error" | "cancelled" => Phase::Failed,
            _ => Phase::InProgress,
        }
    }

    pub fn is_evacuation(&self) -> bool {
        // Before 2.23 the type is not shown; the query filtered on it.
        self.migration_type
            .as_deref()
            .is_none_or(|t| t == "evacuation")
    }

    /// `created_at` as UTC (Nova writes it without a zone).
    pub fn created(&self) -> Option<DateTime<Utc>> {
        parse_time(self.created_at.as_deref()?)
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Filters for `GET /os-migrations`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationQuery {
    pub instance_uuid: Option<String>,
    pub source_compute: Option<String>,
    pub migration_type: Option<String>,
    pub status: Option<String>,
}

impl MigrationQuery {
    /// The evacuations of one instance.
    pub fn evacuations_of(instance_uuid: &str) -> Self {
        Self {
            instance_uuid: Some(instance_uuid.to_owned()),
            migration_type: Some("evacuation".to_owned()),
            ..Self::default()
        }
    }

    /// The evacuations away from one host.
    pub fn evacuations_from(host: &str) -> Self {
        Self {
            source_compute: Some(host.to_owned()),
            migration_type: Some("evacuation".to_owned()),
            ..Self::default()
        }
    }

    fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut q = Vec::new();
        for (k, v) in [
            ("instance_uuid", &self.instance_uuid),
            ("source_compute", &self.source_compute),
            ("migration_type", &self.migration_type),
            ("status", &self.status),
        ] {
            if let Some(v) = v {
                q.push((k, v.as_str()));
            }
        }
        q
    }

    fn matches(&self, m: &Migration) -> bool {
        let eq = |want: &Option<String>, got: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| got.as_ref().is_none_or(|g| g == w))
        };
        eq(&self.instance_uuid, &m.instance_uuid)
            && eq(&self.source_compute, &m.source_compute)
            && eq(&self.migration_type, &m.migration_type)
            && self.status.as_ref().is_none_or(|s| &m.status == s)
    }
}

#[derive(Deserialize)]
struct MigrationsPage {
    migrations: Vec<Migration>,
    #[serde(default)]
    migrations_links: Option<Vec<Link>>,
}

/// Parse one page of `GET /os-migrations`.
pub fn parse_migrations_page(body: &[u8]) -> Result<(Vec<Migration>, bool)> {
    let page: MigrationsPage = decode(body, "migration list")?;
    let next = has_next(&page.migrations_links);
    Ok((page.migrations, next))
}

/// Whether an instance may be evacuated now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvacuationStatus {
    /// No evacuation from the source host (since the given time), and the
    /// server is not rebuilding: evacuate.
    NotEvacuated,
    /// Nova is on it: never evacuate again now; poll.
    InProgress { migration: Option<Migration> },
    /// Rebuilt elsewhere (`done`/`completed`).
    Done { migration: Migration },
    /// The latest attempt failed and nothing is running: another evacuate
    /// may be tried (a bounded number of times).
    Failed { migration: Migration },
}

/// Decide from the server and its migration records. Only evacuations from
/// `source` created at or after `since` count (an instance may have been
/// evacuated from another host, or from this one in an earlier incident).
/// A record whose time cannot be read counts: wrongly counting an old record
/// delays an instance, wrongly ignoring a running one evacuates it twice.
pub fn classify(
    server: &Server,
    migrations: &[Migration],
    source: &str,
    since: Option<DateTime<Utc>>,
) -> EvacuationStatus {
    let mut relevant: Vec<&Migration> = migrations
        .iter()
        .filter(|m| m.is_evacuation())
        .filter(|m| m.instance_uuid.as_deref().is_none_or(|u| u == server.id))
        .filter(|m| m.source_compute.as_deref().is_none_or(|s| s == source))
        .filter(|m| match (since, m.created()) {
            (Some(since), Some(created)) => created >= since,
            _ => true,
        })
        .collect();
    // Newest first: by creation time, then id.
    relevant.sort_by_key(|m| std::cmp::Reverse((m.created(), m.id)));
    let running = relevant.iter().find(|m| m.phase() == Phase::InProgress);
    if server.is_rebuilding() || running.is_some() {
        return EvacuationStatus::InProgress {
            migration: running.or(relevant.first()).map(|m| (*m).clone()),
        };
    }
    match relevant.first() {
        None => EvacuationStatus::NotEvacuated,
        Some(m) if m.phase() == Phase::Succeeded => EvacuationStatus::Done {
            migration: (*m).clone(),
        },
        Some(m) => EvacuationStatus::Failed {
            migration: (*m).clone(),
        },
    }
}

impl Compute {
    /// `GET /os-migrations` with `query`, every page (paged from 2.59). Rows
    /// not matching the query are dropped, in case the API ignored a filter.
    pub fn migrations(&self, query: &MigrationQuery, deadline: Deadline) -> Result<Vec<Migration>> {
        let what = match (&query.instance_uuid, &query.source_compute) {
            (Some(i), _) => format!("list migrations of {}", bounded(i, 60)),
            (None, Some(h)) => format!("list migrations from {}", bounded(h, 80)),
            _ => "list migrations".to_owned(),
        };
        let paging = self.version().at_least(2, 59);
        let mut list = self.paged(
            &["os-migrations"],
            &query.pairs(),
            paging,
            self.version(),
            parse_migrations_page,
            |m: &Migration| Some(m.uuid.clone().unwrap_or_else(|| m.id.to_string())),
            &what,
            deadline,
        )?;
        list.retain(|m| query.matches(m));
        Ok(list)
    }

    /// The pre-check before evacuating `server` away from `source`: one
    /// `GET /os-migrations?instance_uuid=..&migration_type=evacuation`,
    /// combined with the server's task state (read it fresh).
    pub fn evacuation_status(
        &self,
        server: &Server,
        source: &str,
        since: Option<DateTime<Utc>>,
        deadline: Deadline,
    ) -> Result<EvacuationStatus> {
        let migrations = self.migrations(&MigrationQuery::evacuations_of(&server.id), deadline)?;
        Ok(classify(server, &migrations, source, since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::parse_server;
    use proptest::prelude::*;

    fn server(task: &str, host: &str) -> Server {
        let task = if task.is_empty() {
            "null".to_owned()
        } else {
            format!("{task:?}")
        };
        let body = format!(
            r#"{{"server": {{"id": "i1", "status": "ACTIVE", "OS-EXT-STS:task_state": {task}, "OS-EXT-SRV-ATTR:host": "{host}"}}}}"#
        );
        parse_server(body.as_bytes()).unwrap_or_else(|_| panic!("test server"))
    }

    fn mig(id: i64, status: &str, source: &str, created: &str) -> Migration {
        Migration {
            id,
            uuid: None,
            instance_uuid: Some("i1".into()),
            status: status.into(),
            migration_type: Some("evacuation".into()),
            source_compute: Some(source.into()),
            dest_compute: None,
            source_node: None,
            dest_node: None,
            dest_host: None,
            created_at: Some(created.into()),
            updated_at: None,
        }
    }

    #[test]
    fn classification() {
        let idle = server("", "cmp1");
        let t0 = "2024-05-01T12:00:00.000000";
        let since = parse_time("2024-05-01T11:00:00Z");
        assert_eq!(
            classify(&idle, &[], "cmp1", since),
            EvacuationStatus::NotEvacuated
        );
        // The task state alone says in progress (migration not yet visible).
        assert!(matches!(
            classify(&server("rebuilding", "cmp1"), &[], "cmp1", since),
            EvacuationStatus::InProgress { migration: None }
        ));
        assert!(matches!(
            classify(&idle, &[mig(1, "accepted", "cmp1", t0)], "cmp1", since),
            EvacuationStatus::InProgress { migration: Some(_) }
        ));
        assert!(matches!(
            classify(
                &server("", "cmp2"),
                &[mig(1, "done", "cmp1", t0)],
                "cmp1",
                since
            ),
            EvacuationStatus::Done { .. }
        ));
        // A failure followed by a new attempt still running.
        assert!(matches!(
            classify(
                &idle,
                &[
                    mig(1, "failed", "cmp1", t0),
                    mig(2, "pre-migrating", "cmp1", "2024-05-01T12:00:05")
                ],
                "cmp1",
                since
            ),
            EvacuationStatus::InProgress { .. }
        ));
        // Latest failed → may retry.
        assert!(matches!(
            classify(
                &idle,
                &[mig(1, "completed", "cmp1", "2024-05-01T11:30:00"), mig(2, "error", "cmp1", t0)],
                "cmp1",
                since
            ),
            EvacuationStatus::Failed { migration } if migration.id == 2
        ));
        // Old incidents and other sources do not count.
        assert_eq!(
            classify(
                &idle,
                &[
                    mig(1, "completed", "cmp1", "2024-04-01T00:00:00"),
                    mig(2, "accepted", "cmp9", t0)
                ],
                "cmp1",
                since
            ),
            EvacuationStatus::NotEvacuated
        );
        // An unreadable time counts (conservative).
        assert!(matches!(
            classify(
                &idle,
                &[mig(1, "accepted", "cmp1", "yesterday")],
                "cmp1",
                since
            ),
            EvacuationStatus::InProgress { .. }
        ));
    }

    #[test]
    fn pages_and_times() {
        let body =
            br#"{"migrations": [{"id": 3, "uuid": "m3", "instance_uuid": "i1", "status": "done",
            "migration_type": "evacuation", "source_compute": "cmp1", "dest_compute": "cmp2",
            "created_at": "2024-05-01T12:00:00.000000", "updated_at": null, "links": []}],
            "migrations_links": [{"rel": "next", "href": "x"}]}"#;
        let (list, next) = parse_migrations_page(body).unwrap_or_default();
        assert!(next);
        assert_eq!(list[0].phase(), Phase::Succeeded);
        assert_eq!(list[0].created(), parse_time("2024-05-01T12:00:00Z"));
        // Pre-2.23 rows have no type.
        let (list, next) =
            parse_migrations_page(br#"{"migrations": [{"id": 1, "status": "accepted"}]}"#)
                .unwrap_or_default();
        assert!(!next && list[0].is_evacuation());
        assert!(parse_migrations_page(br#"{"migrations": [{"status": "x"}]}"#).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_migrations_page(&body);
        }

        #[test]
        fn classify_never_panics(statuses in proptest::collection::vec("[a-z-]{0,12}", 0..6), created in "[0-9T:.Z-]{0,30}") {
            let ms: Vec<Migration> = statuses.iter().enumerate().map(|(i, s)| mig(i as i64, s, "cmp1", &created)).collect();
            let _ = classify(&server("", "cmp1"), &ms, "cmp1", parse_time("2024-01-01T00:00:00Z"));
        }
    }
}
