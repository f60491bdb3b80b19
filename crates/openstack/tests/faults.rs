//! Fault injection against the fake cloud: which requests are retried, how
//! often, how far apart, within which deadline, and what the caller gets
//! after the last attempt.
//!
//! The rule under test (see `session.rs`): reads and idempotent writes
//! (GET, PUT of a service flag, the token request) are retried on 5xx,
//! connection failures and timeouts with backoff while the deadline allows;
//! an evacuate (POST) is resent only when the connection was refused, so
//! Nova cannot have seen it; a 401 re-authenticates once.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use std::sync::Arc;
use std::time::{Duration, Instant};

use openstack::testing::{FakeCloud, Fault, Route, ServerSpec};
use openstack::{
    Compute, ComputeOptions, Error, EvacuateOptions, EvacuationStatus, Glance, GlanceOptions,
    Session, SessionOptions,
};
use umha_common::Deadline;

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn options() -> SessionOptions {
    FakeCloud::session_options()
}

struct Lab {
    cloud: FakeCloud,
    nova: Compute,
    /// A server on cmp1, whose service is down: evacuable.
    vm: String,
}

fn lab_with(options: SessionOptions) -> Lab {
    let cloud = FakeCloud::start().unwrap();
    cloud.add_hosts(&["cmp1", "cmp2", "cmp3"]);
    let vm = cloud.add_server(ServerSpec::new("vm", "cmp1"));
    cloud.mark_service_down("cmp1");
    // Evacuations stay in flight for the whole test unless it says otherwise.
    cloud.set_evacuation_time(Duration::from_secs(60));
    let session = Arc::new(Session::new(cloud.cloud_config().unwrap(), options).unwrap());
    let nova = Compute::connect(session, ComputeOptions::default(), deadline()).unwrap();
    cloud.reset_log();
    Lab { cloud, nova, vm }
}

fn lab() -> Lab {
    lab_with(options())
}

/// Wait (bounded) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < end, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ------------------------------------------------------------ reads

#[test]
fn reads_are_retried_on_each_5xx() {
    for status in [500, 502, 503, 504] {
        let l = lab();
        l.cloud.inject(Route::Services, Fault::Status(status), 2);
        let list = l.nova.compute_services(None, deadline()).unwrap();
        assert_eq!(list.len(), 3, "{status}");
        assert_eq!(l.cloud.count(Route::Services), 3, "{status}");
    }
}

#[test]
fn a_read_gives_a_clear_error_after_the_last_attempt() {
    let l = lab();
    l.cloud.inject_always(Route::Services, Fault::Status(503));
    let err = l.nova.compute_services(None, deadline()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.is_configuration());
    let text = err.to_string();
    assert!(text.contains("after 4 attempts"), "{text}");
    assert!(text.contains("No server is available"), "{text}");
    assert_eq!(l.cloud.count(Route::Services), 4);

    // The same for a connection that keeps being reset.
    l.cloud.clear_faults();
    l.cloud.reset_log();
    l.cloud.inject_always(Route::Services, Fault::Reset);
    let err = l.nova.compute_services(None, deadline()).unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { status: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    assert_eq!(l.cloud.count(Route::Services), 4);
}

#[test]
fn backoff_doubles_between_attempts() {
    let l = lab_with(SessionOptions {
        backoff: Duration::from_millis(40),
        ..options()
    });
    l.cloud.inject(Route::Services, Fault::Status(503), 3);
    l.nova.compute_services(None, deadline()).unwrap();
    let times: Vec<Instant> = l
        .cloud
        .requests()
        .iter()
        .filter(|r| r.route == Route::Services)
        .map(|r| r.received)
        .collect();
    assert_eq!(times.len(), 4);
    for (i, want) in [40u64, 80, 160].into_iter().enumerate() {
        let gap = times[i + 1] - times[i];
        assert!(
            gap >= Duration::from_millis(want),
            "gap {i}: {gap:?} < {want} ms"
        );
        // Jitter is at most a quarter; allow scheduling slack.
        assert!(
            gap < Duration::from_millis(want * 5 / 4 + 400),
            "gap {i}: {gap:?}"
        );
    }
}

#[test]
fn retries_stop_within_the_deadline() {
    let l = lab_with(SessionOptions {
        backoff: Duration::from_millis(200),
        ..options()
    });
    l.cloud.inject_always(Route::Services, Fault::Status(503));
    let started = Instant::now();
    let err = l
        .nova
        .compute_services(None, Deadline::after(Duration::from_millis(450)))
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(700), "{took:?}");
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(l.cloud.count(Route::Services), 2, "no room for a third");
}

#[test]
fn resets_closes_and_truncated_bodies_are_retried_for_reads() {
    for fault in [
        Fault::Reset,
        Fault::Close,
        Fault::Truncated,
        Fault::ResetAfterProcessing,
    ] {
        let l = lab();
        l.cloud.inject(Route::Servers, fault.clone(), 1);
        let list = l.nova.servers_on_host("cmp1", deadline()).unwrap();
        assert_eq!(list.len(), 1, "{fault:?}");
        assert_eq!(l.cloud.count(Route::Servers), 2, "{fault:?}");
    }
}

#[test]
fn a_stalled_read_times_out_and_is_retried() {
    let l = lab_with(SessionOptions {
        request_timeout: Duration::from_millis(300),
        ..options()
    });
    l.cloud
        .inject(Route::Server, Fault::Stall(Duration::from_secs(2)), 1);
    let started = Instant::now();
    let s = l.nova.server(&l.vm, deadline()).unwrap();
    assert_eq!(s.id, l.vm);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(l.cloud.count(Route::Server), 2);

    // Always stalled: a Timeout that says how many attempts were made.
    l.cloud
        .inject_always(Route::Server, Fault::Stall(Duration::from_secs(2)));
    let started = Instant::now();
    let err = l
        .nova
        .server(&l.vm, Deadline::after(Duration::from_secs(3)))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("attempts"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(3300));
}

#[test]
fn a_slow_body_is_fine_within_the_timeout_and_retried_beyond() {
    let l = lab_with(SessionOptions {
        request_timeout: Duration::from_millis(400),
        ..options()
    });
    l.cloud.inject(
        Route::Services,
        Fault::SlowBody {
            chunk: 256,
            interval: Duration::from_millis(20),
        },
        1,
    );
    l.nova.compute_services(None, deadline()).unwrap();
    assert_eq!(l.cloud.count(Route::Services), 1);
    l.cloud.inject(
        Route::Services,
        Fault::SlowBody {
            chunk: 8,
            interval: Duration::from_millis(50),
        },
        1,
    );
    l.nova.compute_services(None, deadline()).unwrap();
    assert_eq!(l.cloud.count(Route::Services), 3);
}

#[test]
fn refused_connections_are_retried_for_reads() {
    let l = lab_with(SessionOptions {
        backoff: Duration::from_millis(150),
        ..options()
    });
    l.cloud.offline_for(Duration::from_millis(250));
    let list = l.nova.compute_services(None, deadline()).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(l.cloud.count(Route::Services), 1, "only one got through");
}

#[test]
fn hostile_answers_are_malformed_and_not_retried() {
    let l = lab_with(SessionOptions {
        max_body: 64 * 1024,
        ..options()
    });
    let bodies: [&[u8]; 5] = [
        br#"{"services": [{"host": 7, "binary": "nova-compute"}]}"#,
        b"\x00\xff garbage",
        br#"{"services": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        br#"{"services": [{"id": 1e999, "host": "h", "binary": "nova-compute"}]}"#,
        b"<html><body>It works!</body></html>",
    ];
    for body in bodies {
        l.cloud.reset_log();
        l.cloud.inject(
            Route::Services,
            Fault::Body {
                status: 200,
                body: body.to_vec(),
            },
            1,
        );
        let err = l.nova.compute_services(None, deadline()).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert_eq!(l.cloud.count(Route::Services), 1);
    }
    for declare_length in [true, false] {
        l.cloud.reset_log();
        l.cloud.inject(
            Route::Services,
            Fault::Oversized {
                len: 4 << 20,
                declare_length,
            },
            1,
        );
        let err = l.nova.compute_services(None, deadline()).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        assert!(err.to_string().contains("larger than 65536 bytes"), "{err}");
        assert_eq!(l.cloud.count(Route::Services), 1);
    }
}

// ------------------------------------------------------------ idempotent writes

#[test]
fn setting_a_service_flag_is_retried() {
    let l = lab();
    let svc = l.nova.compute_service("cmp2", deadline()).unwrap();
    l.cloud.inject(Route::ServiceUpdate, Fault::Status(503), 2);
    l.nova.force_down(&svc, deadline()).unwrap();
    assert_eq!(l.cloud.count(Route::ServiceUpdate), 3);
    // Lost answer: the flag is set, sending it again is harmless.
    l.cloud
        .inject(Route::ServiceUpdate, Fault::ResetAfterProcessing, 1);
    l.nova.disable(&svc, "fenced", deadline()).unwrap();
    assert_eq!(l.cloud.count(Route::ServiceUpdate), 5);
    let s = l.cloud.service("cmp2").unwrap();
    assert!(s.forced_down && s.disabled);
}

#[test]
fn the_token_request_is_retried_on_5xx_but_not_on_401() {
    let cloud = FakeCloud::start().unwrap();
    cloud.add_host("cmp1");
    cloud.inject(Route::Token, Fault::Status(503), 2);
    let nova = cloud.compute(deadline()).unwrap();
    assert_eq!(cloud.count(Route::Token), 3);
    assert_eq!(cloud.tokens_issued(), 1);
    nova.compute_services(None, deadline()).unwrap();
}

#[test]
fn a_global_fault_hits_every_route() {
    let cloud = FakeCloud::start().unwrap();
    cloud.add_host("cmp1");
    cloud.inject(Route::Any, Fault::Status(502), 3);
    let nova = cloud.compute(deadline()).unwrap();
    nova.compute_services(None, deadline()).unwrap();
    assert_eq!(cloud.count(Route::Token), 4);
    assert_eq!(cloud.count(Route::Any), 4 + 1 + 1);
}

// ------------------------------------------------------------ evacuate

#[test]
fn an_evacuate_answered_5xx_is_not_resent() {
    let l = lab();
    l.cloud.inject(Route::ServerAction, Fault::Status(503), 1);
    let err = l
        .nova
        .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("attempts"), "{err}");
    assert_eq!(l.cloud.count(Route::ServerAction), 1);
    assert_eq!(l.cloud.accepted_evacuations(&l.vm), 0);
}

#[test]
fn an_evacuate_whose_answer_is_lost_is_not_resent() {
    for fault in [Fault::ResetAfterProcessing, Fault::Truncated] {
        let l = lab();
        l.cloud.inject(Route::ServerAction, fault.clone(), 1);
        let err = l
            .nova
            .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
            .unwrap_err();
        assert!(
            matches!(err, Error::Unavailable { status: None, .. }),
            "{fault:?}: {err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(l.cloud.count(Route::ServerAction), 1, "{fault:?}");
        // Nova did take it: the pre-check says so, and the evacuator must
        // not send another.
        assert_eq!(l.cloud.accepted_evacuations(&l.vm), 1, "{fault:?}");
        let s = l.nova.server(&l.vm, deadline()).unwrap();
        assert!(matches!(
            l.nova
                .evacuation_status(&s, "cmp1", None, deadline())
                .unwrap(),
            EvacuationStatus::InProgress { .. }
        ));
    }
}

#[test]
fn an_evacuate_reset_or_closed_unprocessed_is_not_resent_either() {
    // The client cannot tell "reset before" from "reset after": not resent.
    for fault in [Fault::Reset, Fault::Close] {
        let l = lab();
        l.cloud.inject(Route::ServerAction, fault.clone(), 1);
        assert!(
            l.nova
                .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
                .is_err()
        );
        assert_eq!(l.cloud.count(Route::ServerAction), 1, "{fault:?}");
        assert_eq!(l.cloud.accepted_evacuations(&l.vm), 0, "{fault:?}");
        let s = l.nova.server(&l.vm, deadline()).unwrap();
        assert_eq!(
            l.nova
                .evacuation_status(&s, "cmp1", None, deadline())
                .unwrap(),
            EvacuationStatus::NotEvacuated,
            "so the next round evacuates it"
        );
    }
}

#[test]
fn an_evacuate_that_times_out_is_not_resent_and_still_happens() {
    let l = lab_with(SessionOptions {
        request_timeout: Duration::from_millis(300),
        ..options()
    });
    l.cloud.inject(
        Route::ServerAction,
        Fault::Stall(Duration::from_millis(800)),
        1,
    );
    let err = l
        .nova
        .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(l.cloud.count(Route::ServerAction), 1);
    eventually("the stalled evacuate is processed", || {
        l.cloud.accepted_evacuations(&l.vm) == 1
    });
    let s = l.nova.server(&l.vm, deadline()).unwrap();
    assert!(matches!(
        l.nova
            .evacuation_status(&s, "cmp1", None, deadline())
            .unwrap(),
        EvacuationStatus::InProgress { .. }
    ));
}

#[test]
fn an_evacuate_refused_at_connect_is_resent() {
    let l = lab_with(SessionOptions {
        backoff: Duration::from_millis(150),
        ..options()
    });
    l.cloud.offline_for(Duration::from_millis(250));
    l.nova
        .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
        .unwrap();
    assert_eq!(l.cloud.count(Route::ServerAction), 1);
    assert_eq!(l.cloud.accepted_evacuations(&l.vm), 1);
}

#[test]
fn an_evacuate_refused_at_connect_for_good_is_unavailable() {
    let l = lab_with(SessionOptions {
        backoff: Duration::from_millis(20),
        ..options()
    });
    l.cloud.go_offline();
    let err = l
        .nova
        .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { status: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    l.cloud.go_online().unwrap();
    assert_eq!(l.cloud.accepted_evacuations(&l.vm), 0);
    l.nova
        .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
        .unwrap();
    assert_eq!(l.cloud.accepted_evacuations(&l.vm), 1);
}

// ------------------------------------------------------------ 401

#[test]
fn a_revoked_token_is_renewed_once() {
    let l = lab();
    let issued = l.cloud.tokens_issued();
    l.cloud.revoke_tokens();
    l.nova.compute_services(None, deadline()).unwrap();
    assert_eq!(l.cloud.tokens_issued(), issued + 1);
    assert_eq!(l.cloud.count(Route::Services), 2);
    // A 401 means "not processed": the evacuate is sent again after it.
    l.cloud.revoke_tokens();
    l.nova
        .evacuate(&l.vm, &EvacuateOptions::default(), deadline())
        .unwrap();
    assert_eq!(l.cloud.count(Route::ServerAction), 2);
    assert_eq!(l.cloud.accepted_evacuations(&l.vm), 1);
}

#[test]
fn a_token_refused_twice_is_an_auth_error() {
    let l = lab();
    let issued = l.cloud.tokens_issued();
    l.cloud.refuse_all_tokens(true);
    let err = l.nova.compute_services(None, deadline()).unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    assert!(err.is_configuration());
    assert!(
        err.to_string().contains("fresh token was refused too"),
        "{err}"
    );
    assert_eq!(l.cloud.tokens_issued(), issued + 1, "one re-authentication");
    assert_eq!(l.cloud.count(Route::Services), 2);
    l.cloud.refuse_all_tokens(false);
    l.nova.compute_services(None, deadline()).unwrap();
}

// ------------------------------------------------------------ Glance

#[test]
fn image_listing_is_retried() {
    let l = lab();
    // Glance shares Nova's session, and so its token.
    let glance = Glance::connect(
        l.nova.shared_session(),
        GlanceOptions::default(),
        deadline(),
    )
    .unwrap();
    l.cloud.inject(Route::Images, Fault::Status(503), 2);
    assert!(glance.evacuable_image_ids(deadline()).unwrap().is_empty());
    assert_eq!(l.cloud.count(Route::Images), 4, "2 failures + 2 listings");
    l.cloud.inject_always(Route::Images, Fault::Status(500));
    let err = glance.images(deadline()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
}
