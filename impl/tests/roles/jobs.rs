//! Exactly-once jobs: the resource's per-job records and the client's attempts.

use super::*;

fn jobs_cfg(variant: Variant) -> Config {
    ProtocolConfig {
        variant,
        jobs: Jobs {
            count: 3,
            poison: 0b010, // job 1 can never be applied
            attempts: 2,
        },
        ..Default::default()
    }
    .validate()
    .expect("a job workload is valid")
}

fn apply(job: u32, seq: u64, token: u64) -> Msg {
    Msg::Apply {
        key: Key(0),
        token: Token(token),
        job: Job(job),
        idem: IdemKey {
            node: C1,
            incarnation: 0,
            seq,
        },
    }
}

fn outcome_of(outs: &[Output]) -> Option<JobOutcome> {
    sends(outs).into_iter().find_map(|(_, m)| match m {
        Msg::JobResult { outcome, .. } => Some(outcome),
        _ => None,
    })
}

#[test]
fn resource_applies_a_job_once_and_dead_letters_a_poison_job_after_its_budget() {
    let c = jobs_cfg(Variant::Correct);
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let mut disk = Disk::default();
    let mut step = |r: &mut FencedResource, from: NodeId, m: Msg| {
        r.handle_message(T0, from, m);
        let outs = drain(r);
        for o in &outs {
            if let Output::Persist(op) = o {
                disk.apply(*op);
            }
        }
        outcome_of(&outs)
    };
    assert_eq!(step(&mut r, C1, apply(0, 1, 1)), Some(JobOutcome::Applied));
    // A re-send of the same attempt, a new attempt, and another holder: the record answers.
    assert_eq!(
        step(&mut r, C1, apply(0, 1, 1)),
        Some(JobOutcome::AlreadyApplied)
    );
    assert_eq!(
        step(&mut r, C1, apply(0, 2, 1)),
        Some(JobOutcome::AlreadyApplied)
    );
    assert_eq!(
        step(&mut r, C2, apply(0, 9, 2)),
        Some(JobOutcome::AlreadyApplied)
    );
    // The poison job: a re-sent attempt (its answer was lost) is not counted again.
    let failed = |n| Some(JobOutcome::Failed { failures: n });
    assert_eq!(step(&mut r, C1, apply(1, 3, 1)), failed(1));
    assert_eq!(step(&mut r, C1, apply(1, 3, 1)), failed(1));
    assert_eq!(
        step(&mut r, C1, apply(1, 4, 1)),
        Some(JobOutcome::DeadLettered)
    );
    assert_eq!(
        step(&mut r, C1, apply(1, 5, 1)),
        Some(JobOutcome::DeadLettered)
    );
    // A stale token is fenced before anything is applied: a write of token 3 came first.
    step(
        &mut r,
        C2,
        Msg::Write {
            key: Key(0),
            token: Token(3),
            idem: IdemKey {
                node: C2,
                incarnation: 0,
                seq: 8,
            },
        },
    );
    assert_eq!(
        step(&mut r, C1, apply(2, 6, 1)),
        Some(JobOutcome::Fenced { current: Token(3) })
    );
    assert_eq!(step(&mut r, C2, apply(2, 10, 3)), Some(JobOutcome::Applied));
    assert_eq!(
        step(&mut r, C1, apply(2, 7, 1)),
        Some(JobOutcome::AlreadyApplied),
        "the record answers first"
    );
    // The records are durable: a restarted resource still answers from them.
    let mut r2 = FencedResource::restore(
        &c,
        Identity {
            node: NodeId(1),
            incarnation: 1,
        },
        &disk,
        T0,
    );
    drain(&mut r2);
    assert_eq!(r2.job(Job(0)), Some(JobRecord::Applied { token: Token(1) }));
    assert_eq!(
        r2.job(Job(1)),
        Some(JobRecord::DeadLettered { token: Token(1) })
    );
}

#[test]
fn resource_without_idempotency_keys_applies_a_resent_job_twice() {
    let c = jobs_cfg(Variant::NoIdempotency);
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let mut oracles = SafetyOracles::new();
    let mut found = Vec::new();
    for _ in 0..2 {
        r.handle_message(T0, C1, apply(0, 1, 1));
        for o in drain(&mut r) {
            if let Output::Event(e) = o {
                oracles.observe(T0, &e, &mut found);
            }
        }
    }
    assert!(
        matches!(
            found.as_slice(),
            [Violation::JobAppliedTwice { job: Job(0), .. }]
        ),
        "{found:?}"
    );
    assert!(oracles.tripped(OracleName::ExactlyOnce));
    assert!(
        oracles.unresolved_jobs(3).len() == 2,
        "jobs 1 and 2 are neither"
    );
}

#[test]
fn client_works_through_the_jobs_resending_an_unanswered_attempt_as_is() {
    let c = jobs_cfg(Variant::Correct);
    let mut cl = granted_client(&c);
    let first = sends(&drain(&mut cl));
    let attempt = |sent: &[(NodeId, Msg)]| {
        sent.iter().find_map(|(_, m)| match m {
            Msg::Apply { job, idem, .. } => Some((*job, *idem)),
            _ => None,
        })
    };
    let (job, idem) = attempt(&first).expect("it starts on the first job at once");
    assert_eq!(job, Job(0));
    // No answer: the same attempt goes again at the next write.
    let t = T0.plus(c.write_interval_ns);
    cl.handle_timeout(t);
    assert_eq!(attempt(&sends(&drain(&mut cl))), Some((Job(0), idem)));
    let result = |job, idem, outcome| Msg::JobResult {
        key: Key(0),
        token: Token(1),
        job,
        idem,
        outcome,
    };
    // Answered: on to job 1 at once, under a new attempt.
    cl.handle_message(t, NodeId(1), result(Job(0), idem, JobOutcome::Applied));
    let (job1, idem1) = attempt(&sends(&drain(&mut cl))).expect("next job at once");
    assert_eq!(job1, Job(1));
    assert_ne!(idem1, idem);
    // A definite rejection: the next try is a new attempt at the same job.
    cl.handle_message(
        t,
        NodeId(1),
        result(Job(1), idem1, JobOutcome::Failed { failures: 1 }),
    );
    let t2 = t.plus(c.write_interval_ns);
    cl.handle_timeout(t2);
    let (job1b, idem1b) = attempt(&sends(&drain(&mut cl))).expect("retried");
    assert_eq!(job1b, Job(1));
    assert_ne!(idem1b, idem1);
    cl.handle_message(
        t2,
        NodeId(1),
        result(Job(1), idem1b, JobOutcome::DeadLettered),
    );
    let (job2, idem2) = attempt(&sends(&drain(&mut cl))).expect("last job");
    assert_eq!(job2, Job(2));
    // The last job done: it releases and wants nothing more.
    cl.handle_message(
        t2,
        NodeId(1),
        result(Job(2), idem2, JobOutcome::AlreadyApplied),
    );
    let outs = sends(&drain(&mut cl));
    assert!(
        outs.iter().any(|(_, m)| matches!(m, Msg::Release { .. })),
        "{outs:?}"
    );
    assert_eq!(cl.held_token(), None);
    assert!(!cl.is_waiting());
    assert!(
        cl.poll_timeout()
            .is_none_or(|(_, why)| why == "release re-send"),
        "a client with every job done has nothing to do: {:?}",
        cl.poll_timeout()
    );
}

/// A jobs client granted token 1, and the attempt it sent at once.
fn working_client(c: &Config) -> (LeaseClient, Job, IdemKey) {
    let mut cl = granted_client(c);
    let outs = drain(&mut cl);
    let attempt = sends(&outs).into_iter().find_map(|(_, m)| match m {
        Msg::Apply { job, idem, .. } => Some((job, idem)),
        _ => None,
    });
    let (job, idem) = attempt.expect("a granted jobs client starts its first job");
    (cl, job, idem)
}

fn job_result(token: u64, job: Job, idem: IdemKey, outcome: JobOutcome) -> Msg {
    Msg::JobResult {
        key: Key(0),
        token: Token(token),
        job,
        idem,
        outcome,
    }
}

#[test]
fn a_fenced_job_result_ends_only_the_held_token_against_a_newer_one() {
    let c = jobs_cfg(Variant::Correct);
    let (_, job, idem) = working_client(&c);
    let fence = |token, current| {
        let fenced = JobOutcome::Fenced {
            current: Token(current),
        };
        job_result(token, job, idem, fenced)
    };
    assert_fences_only_newer(|| working_client(&c).0, fence);
}

#[test]
fn a_definite_rejection_ends_only_its_own_attempt() {
    let c = jobs_cfg(Variant::Correct);
    let (mut cl, job, idem) = working_client(&c);
    let failed = JobOutcome::Failed { failures: 1 };
    // Another attempt's rejection (a stale answer) leaves this attempt to be re-sent as is.
    let other = IdemKey {
        seq: idem.seq + 50,
        ..idem
    };
    let before = cl.clone();
    cl.handle_message(T0, NodeId(1), job_result(1, job, other, failed));
    assert!(drain(&mut cl).is_empty());
    assert!(cl == before);
    cl.handle_message(T0, NodeId(1), job_result(1, job, idem, failed));
    drain(&mut cl);
    assert!(cl != before, "its own rejection ends the attempt");
    // The next attempt at the job is a new one, under a new key.
    let next = T0.plus(c.write_interval_ns);
    cl.handle_timeout(next);
    let retry = sends(&drain(&mut cl))
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Apply {
                job: j, idem: i, ..
            } if j == job => Some(i),
            _ => None,
        });
    let retry = retry.expect("the job is tried again");
    assert_ne!(retry, idem, "a new attempt, not a re-send");
}

#[test]
fn a_job_answered_out_of_order_is_never_attempted() {
    // Job 2 is reported applied (by an earlier holder) while job 0 is in flight: once jobs 0
    // and 1 are settled the client is done and releases, never sending job 2.
    let c = jobs_cfg(Variant::Correct);
    let (mut cl, first, idem) = working_client(&c);
    assert_eq!(first, Job(0));
    let stray = IdemKey { seq: 999, ..idem };
    cl.handle_message(
        T0,
        NodeId(1),
        job_result(1, Job(2), stray, JobOutcome::AlreadyApplied),
    );
    let mut sent_jobs = Vec::new();
    let mut released = false;
    let mut outs = drain(&mut cl);
    cl.handle_message(
        T0,
        NodeId(1),
        job_result(1, Job(0), idem, JobOutcome::Applied),
    );
    outs.extend(drain(&mut cl));
    for _ in 0..20 {
        for (_, m) in sends(&outs) {
            match m {
                Msg::Apply { job, idem, .. } => {
                    sent_jobs.push(job);
                    let done = JobOutcome::DeadLettered; // job 1 is poison: settle it
                    cl.handle_message(T0, NodeId(1), job_result(1, job, idem, done));
                }
                Msg::Release { .. } => released = true,
                _ => {}
            }
        }
        outs = drain(&mut cl);
        if released || outs.is_empty() {
            break;
        }
    }
    assert!(released, "done after jobs 0 and 1: {sent_jobs:?}");
    assert!(
        sent_jobs.contains(&Job(1)),
        "job 1 was worked: {sent_jobs:?}"
    );
    assert!(!sent_jobs.contains(&Job(2)), "{sent_jobs:?}");
}

#[test]
fn a_repeated_job_result_changes_nothing() {
    // Job 0 applied, then job 1 (poison) dead-lettered: job 2 goes out. The same answer
    // for job 1 again (a duplicate) must not start job 2 over.
    let c = jobs_cfg(Variant::Correct);
    let (mut cl, job, idem) = working_client(&c);
    assert_eq!(job, Job(0));
    cl.handle_message(T0, NodeId(1), job_result(1, job, idem, JobOutcome::Applied));
    let next = sends(&drain(&mut cl))
        .into_iter()
        .find_map(|(_, m)| match m {
            Msg::Apply { job, idem, .. } => Some((job, idem)),
            _ => None,
        });
    let (job1, idem1) = next.expect("job 1 goes out at once");
    assert_eq!(job1, Job(1));
    let settled = job_result(1, job1, idem1, JobOutcome::DeadLettered);
    cl.handle_message(T0, NodeId(1), settled);
    assert!(sends(&drain(&mut cl))
        .iter()
        .any(|(_, m)| matches!(m, Msg::Apply { job: Job(2), .. })));
    let before = cl.clone();
    cl.handle_message(T0, NodeId(1), settled);
    assert!(drain(&mut cl).is_empty());
    assert!(cl == before);
}

#[test]
fn a_job_result_for_another_key_changes_nothing() {
    let c = jobs_cfg(Variant::Correct);
    let (mut cl, job, idem) = working_client(&c);
    let before = cl.clone();
    let other = Msg::JobResult {
        key: Key(1),
        token: Token(1),
        job,
        idem,
        outcome: JobOutcome::Applied,
    };
    cl.handle_message(T0, NodeId(1), other);
    assert!(drain(&mut cl).is_empty());
    assert!(cl == before);
}

#[test]
fn a_job_raises_the_highest_token_only_when_newer_and_undeclared_jobs_are_ignored() {
    let c = jobs_cfg(Variant::Correct);
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    let raised = |outs: &[Output]| {
        outs.iter()
            .any(|o| matches!(o, Output::Persist(PersistOp::Highest { .. })))
    };
    r.handle_message(T0, C1, apply(0, 1, 2));
    assert!(raised(&drain(&mut r)));
    assert_eq!(r.highest(Key(0)), Some(Token(2)));
    r.handle_message(T0, C1, apply(2, 2, 2));
    assert!(!raised(&drain(&mut r)), "the same token raises nothing");
    // Jobs 0..3 are declared: job 3 and beyond come from a confused or hostile peer.
    let before = r.clone();
    for job in [3, 9] {
        r.handle_message(T0, C1, apply(job, 3, 5));
        assert!(drain(&mut r).is_empty());
    }
    assert!(r == before);
}

#[test]
fn a_job_answer_names_the_node_it_came_from() {
    // The attempt's key claims C1; it arrived from C2: the answer and record are C2's.
    let c = jobs_cfg(Variant::Correct);
    let mut r = FencedResource::restore(&c, Identity::default(), &Disk::default(), T0);
    drain(&mut r);
    r.handle_message(T0, C2, apply(0, 1, 1));
    let answered = sends(&drain(&mut r))
        .into_iter()
        .find_map(|(to, m)| match m {
            Msg::JobResult { idem, .. } => Some((to, idem.node)),
            _ => None,
        });
    assert_eq!(answered, Some((C2, C2)));
}
