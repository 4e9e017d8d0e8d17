//! Both client crates re-export the same `agent_proto` types (and the same shared
//! pieces of the async crate), so that code moves from one client to the other by
//! changing one `use`. A name missing from either crate fails to compile here; a
//! name that resolves to a different type fails the assertion.

use std::any::TypeId;

macro_rules! same_in_both {
    ($($name:ident),* $(,)?) => {{
        let mut checked = Vec::new();
        $(
            assert_eq!(
                TypeId::of::<agent_client_async::$name>(),
                TypeId::of::<agent_client_blocking::$name>(),
                stringify!($name)
            );
            assert_eq!(
                TypeId::of::<agent_client_async::$name>(),
                TypeId::of::<agent_proto::$name>(),
                stringify!($name)
            );
            checked.push(stringify!($name));
        )*
        checked
    }};
}

#[test]
fn both_clients_re_export_the_same_proto_types() {
    let checked = same_in_both!(
        ClientError,
        ErrorSource,
        ValidationDetail,
        TimeoutKind,
        LimitKind,
        Secret,
        JobId,
        NodeId,
        TaskId,
        ServeAppName,
        PluginLookup,
        StreamLimits,
        Protocol,
        TailOptions,
        Timeouts,
        CreatePluginRelease,
        GpuStatus,
        Health,
        Job,
        JobStatus,
        Node,
        PluginRelease,
        RunDebugPluginRelease,
        RunPluginRelease,
        ServeApplication,
        StopJobResponse,
        Task,
    );
    assert_eq!(checked.len(), 27);
    assert_eq!(
        TypeId::of::<agent_client_async::Page<agent_proto::Job>>(),
        TypeId::of::<agent_client_blocking::Page<agent_proto::Job>>()
    );
}

#[test]
fn both_clients_re_export_the_shared_pieces() {
    assert_eq!(
        TypeId::of::<agent_client_async::RetryPolicy>(),
        TypeId::of::<agent_client_blocking::RetryPolicy>()
    );
    assert_eq!(
        TypeId::of::<agent_client_async::StreamCounters>(),
        TypeId::of::<agent_client_blocking::StreamCounters>()
    );
    assert_eq!(
        TypeId::of::<agent_client_async::Proxy>(),
        TypeId::of::<agent_client_blocking::Proxy>()
    );
    assert_eq!(
        TypeId::of::<agent_client_async::Identity>(),
        TypeId::of::<agent_client_blocking::Identity>()
    );
    assert_eq!(
        TypeId::of::<agent_client_async::RawPath>(),
        TypeId::of::<agent_client_blocking::RawPath>()
    );
    assert_eq!(
        TypeId::of::<dyn agent_client_async::Transport>(),
        TypeId::of::<dyn agent_client_blocking::Transport>()
    );
}
