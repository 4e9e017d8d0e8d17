//! A stand-in Ray dashboard on loopback for the gateway's tests that need a healthy
//! Ray but no real one: healthy, one running job whose log tail stays open and quiet
//! (`agent_testkit::ray::State::quiet`).
#![allow(dead_code)]

/// The stand-in's one job (RUNNING).
pub const JOB: &str = agent_testkit::ray::QUIET_JOB;

/// Starts the stand-in Ray on a free port: its address.
pub async fn ray() -> String {
    let (_state, address, _task) = agent_testkit::ray::start(agent_testkit::ray::State::quiet())
        .await
        .unwrap();
    address
}
