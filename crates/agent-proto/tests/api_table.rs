//! The description both ways: for every operation of the table, a request built
//! from generated ids routes back to the same operation and ids, also when a
//! client percent-encodes more of the path than it must.

use agent_proto::api::{self, match_request, Call, OperationId};
use proptest::prelude::*;
use serde_json::Value;

/// An id of the agent API's rule, or a `code@version` lookup (which carries
/// characters a client may percent-encode: `@`, `.`, `+`).
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,100}",
        "[A-Za-z0-9_-]{1,20}@[A-Za-z0-9][A-Za-z0-9_.+-]{0,20}"
            .prop_filter("no '..' in a version", |s| !s.contains("..")),
    ]
}

/// `path` with the bytes chosen by `mask` written as `%XX` (upper or lower case).
fn over_encode(path: &str, mask: &[bool], lower: bool) -> String {
    let mut out = String::new();
    for (i, c) in path.chars().enumerate() {
        if c != '/' && mask.get(i).copied().unwrap_or(false) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                if lower {
                    out.push_str(&format!("%{b:02x}"));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_operation_routes_back_to_itself(
        which in 0..OperationId::ALL.len(),
        seg in segment(),
        mask in proptest::collection::vec(any::<bool>(), 0..160),
        lower in any::<bool>(),
        slash in any::<bool>(),
    ) {
        let id = OperationId::ALL[which];
        let op = match id.with_segment(Some(seg.clone())) {
            Ok(op) => op,
            // a lookup-shaped segment is not a job id: the id type says no, as it must
            Err(e) => {
                prop_assert_eq!(e.status_code(), 400);
                prop_assert!(id.segment_name().is_some() && seg.contains('@'));
                return Ok(());
            }
        };
        let req = Call::<(), Value>::new(op.clone()).request().unwrap();
        prop_assert_eq!(req.method(), id.method());
        let path = req.uri().path().strip_prefix('/').unwrap().to_owned();
        // a router accepts the path with or without its trailing slash
        let path = if slash { path } else { path.trim_end_matches('/').to_owned() };
        let routed = match_request(&id.method(), &path, id.websocket()).unwrap();
        prop_assert_eq!(&routed, &op);
        let encoded = over_encode(&path, &mask, lower);
        let routed = match_request(&id.method(), &encoded, id.websocket()).unwrap();
        prop_assert_eq!(routed.segment(), op.segment(), "{}", encoded);
        prop_assert_eq!(routed, op);
    }
}

#[test]
fn the_table_holds_the_sdks_surface() {
    // one name per operation, as the SDK's methods are named
    let mut names: Vec<_> = OperationId::ALL.iter().map(|o| o.name()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a name is used twice");
    for sdk in [
        "get_cluster_resources",
        "check_feasibility",
        "get_gatekeeping_policy",
        "update_gatekeeping_policy",
        "get_compose_config",
        "get_system_status",
        "update_system",
        "restart_system",
        "get_build_status",
        "list_docker_containers",
        "create_docker_container",
        "get_docker_container",
        "delete_docker_container",
        "start_docker_container",
        "stop_docker_container",
        "create_container",
        "list_containers",
        "get_container",
        "update_container",
        "delete_container",
    ] {
        assert!(names.contains(&sdk), "{sdk} is missing");
    }
    // the runtime policy is a second reading of the gatekeeping policy's route
    assert_eq!(
        api::get_runtime_policy().operation(),
        api::get_gatekeeping_policy().operation()
    );
}

#[test]
fn bodies_are_built_as_the_agent_reads_them() {
    let call =
        api::create_plugin_release().body(&agent_proto::CreatePluginRelease::new("demo", "1.0"));
    let req = call.request().unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), "/plugin_releases/");
    assert_eq!(req.headers()["content-type"], "application/json");
    assert_eq!(req.body(), br#"{"plugin":"demo","version":"1.0"}"#);

    let call = api::get_cluster_resources().query(&[("use_cache", "false")]);
    assert_eq!(
        call.request().unwrap().uri(),
        "/resources/cluster/?use_cache=false"
    );

    let upload =
        agent_proto::CreateContainer::upload(agent_proto::PluginFile::new("p.zip", b"PK".to_vec()));
    let req = api::create_container().body(&upload).request().unwrap();
    let ct = req.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let parts = api::multipart::parse(&ct, req.body(), Default::default()).unwrap();
    assert_eq!(parts.last().unwrap().filename.as_deref(), Some("p.zip"));
}
