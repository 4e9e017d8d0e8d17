//! Ray's answers are not trusted (issue 27, items 3 to 5), against the stand-in Ray
//! (tests/support/standin.rs) answering what each test sets:
//!
//! - credentials wherever Ray can put a runtime environment (a job's `runtime_env`,
//!   a Serve application's config, a task's `serialized_runtime_env`, error
//!   messages), serialised or not, never come out of any route;
//! - an id from Ray's answer that breaks the id rules never reaches a URL;
//! - paged links are never built from the caller's `Host` header.

mod support;

use agent_client_async::{AsyncAgentClient, Protocol};
use agent_gateway::{Gateway, GatewayConfig, PluginRegistry};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use support::standin::{self, Job, Log, State, DRIVER_NODE};
use support::{collect, raw_request, standin_client, standin_gateway, tail_options};

const TOKEN: &str = "untrusted-ray-token";

/// A task id, hex as Ray's.
const TASK: &str = "39088be3736e590affffffffffffffffffffffff02000000";

/// The secrets of the registry's release (the operator's), checked with Ray's.
const RELEASE_SECRETS: [&str; 4] = [
    "ZxRelPw0rd",
    "ZxRelIndexTok",
    "ZxRelEnvValue",
    "ZxRelEntryPw",
];

fn registry() -> PluginRegistry {
    PluginRegistry::from_toml(
        r#"
[[releases]]
code = "private"
version = "1"
entrypoint = "python main.py {action} --from https://deploy:ZxRelEntryPw@git.example/x"
runtime_env = { working_dir = "https://user:ZxRelPw0rd@store.example/app.zip", pip = ["--index-url https://u:ZxRelIndexTok@pypi.example/simple", "numpy"], env_vars = { TOKEN = "ZxRelEnvValue" } }

[[releases]]
code = "hello"
version = "1"
entrypoint = "echo {action}"

[[releases]]
code = "hello"
version = "2"
entrypoint = "echo {action}"
"#,
    )
    .unwrap()
}

/// A stand-in Ray and a gateway in front of it, one per test (a property test's
/// cases share them: each case sets Ray's answers anew).
struct World {
    rt: tokio::runtime::Runtime,
    ray: Arc<State>,
    gateway: SocketAddr,
    _gw: Gateway,
}

/// The world of the test that owns `slot`, started on first use.
fn world(slot: &'static OnceLock<World>) -> &'static World {
    slot.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ray, gw) = rt.block_on(async {
            let (ray, address, _server) = standin::start(State::default()).await;
            let gw = standin_gateway(GatewayConfig::new(address, TOKEN).plugins(registry())).await;
            (ray, gw)
        });
        World {
            rt,
            ray,
            gateway: gw.local_addr(),
            _gw: gw,
        }
    })
}

/// A request to the gateway with the agent token.
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    raw_request(
        addr,
        method,
        path,
        &[
            ("host", "gateway.test"),
            ("authorization", TOKEN),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
}

/// A runtime environment with a secret everywhere Ray's runtime_env can carry one:
/// the working_dir's and py_modules' passwords, pip's and uv's index options in
/// the three spellings pip takes, conda's pip section, an env_vars value.
fn runtime_env(s: &[String; 6], shape: u8) -> Value {
    let pip = match shape % 3 {
        0 => json!([
            format!("--index-url https://ci:{}@pypi.example/simple", s[2]),
            "numpy"
        ]),
        1 => json!({"packages": ["-i", format!("https://pypi.example/{}/simple", s[2]), "numpy"],
                    "pip_check": false}),
        _ => json!([
            "--extra-index-url",
            format!("https://x:{}@pypi3.example/simple", s[2]),
            "numpy"
        ]),
    };
    json!({
        "working_dir": format!("https://deploy:{}@store.example/app.zip", s[0]),
        "py_modules": [format!("s3://AKIA:{}@bucket.example/mod.zip", s[1])],
        "pip": pip,
        "uv": [format!("--extra-index-url=https://pypi4.example/{}/simple", s[3]), "rich"],
        "conda": {"dependencies": ["python=3.11",
                                   {"pip": [format!("--index-url https://c:{}@conda.example/simple", s[4])]}]},
        "env_vars": {"API_KEY": s[5], "AGENT_ACTION": "go"},
    })
}

/// `env` as Ray may show it: as an object, or serialised into a string.
fn placed(env: Value, serialised: bool) -> Value {
    if serialised {
        Value::String(env.to_string())
    } else {
        env
    }
}

fn envelope(items: Value) -> String {
    json!({"result": true, "msg": "", "data": {"result": {"total": 1, "result": items}}})
        .to_string()
}

/// Sets every answer of the stand-in to carry `s`, as Ray would put them.
fn plant(ray: &State, s: &[String; 6], shape: u8, serialised: [bool; 4]) {
    let env = || runtime_env(s, shape);
    let job = json!({
        "submission_id": "raysubmit_secret", "job_id": "02000000", "status": "SUCCEEDED",
        "type": "SUBMISSION", "driver_node_id": DRIVER_NODE,
        "entrypoint": format!("python x.py --index-url https://u:{}@pypi.example/simple", s[2]),
        "message": format!("Job finished; working_dir https://deploy:{}@store.example/app.zip", s[0]),
        "runtime_env": placed(env(), serialised[0]),
        "metadata": {"origin": format!("https://me:{}@ci.example/build/1", s[1])},
    });
    ray.answer("api/jobs", 200, json!([job, job]).to_string());
    ray.answer("api/jobs/raysubmit_secret", 200, job.to_string());
    ray.answer(
        "api/jobs/raysubmit_secret/stop",
        200,
        json!({"stopped": true, "message": format!("stopping https://u:{}@h.example/", s[0])})
            .to_string(),
    );
    // A runtime_env that failed to set up: Ray's 500 names the URL.
    ray.answer(
        "api/jobs/raysubmit_broken",
        500,
        format!(
            "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n\
             RuntimeEnvSetupError: Failed to download https://deploy:{}@store.example/app.zip",
            s[0]
        ),
    );
    let serialized = if serialised[1] {
        serde_json::to_string_pretty(&env()).unwrap()
    } else {
        env().to_string()
    };
    let task = json!({
        "task_id": TASK, "attempt_number": 0, "job_id": "02000000", "name": "f",
        "state": "FINISHED", "type": "NORMAL_TASK",
        "runtime_env_info": {"serialized_runtime_env": serialized,
                             "runtime_env_config": {"setup_timeout_seconds": 600}},
        "error_message": format!("pip failed: --index-url https://u:{}@pypi.example/simple", s[2]),
    });
    ray.answer("api/v0/tasks", 200, envelope(json!([task])));
    let node = json!({"node_id": DRIVER_NODE, "node_ip": "10.0.0.1", "state": "ALIVE",
                      "is_head_node": true, "resources_total": {"CPU": 2.0, "GPU": 1.0}});
    ray.answer("api/v0/nodes", 200, envelope(json!([node])));
    let app = |name: &str, serialised: bool| {
        json!({
            "name": name, "status": "RUNNING", "route_prefix": format!("/{name}"),
            "deployed_app_config": {
                "name": name, "import_path": "app:app",
                "runtime_env": placed(env(), serialised),
                "deployments": [{"name": "D", "ray_actor_options": {"runtime_env": env()}}],
            },
            "deployments": {"D": {"status": "HEALTHY",
                                  "deployment_config": {"ray_actor_options": {"runtime_env": placed(env(), !serialised)}}}},
        })
    };
    ray.answer(
        "api/serve/applications",
        200,
        json!({
            "proxy_location": "EveryNode",
            "http_options": {"host": "0.0.0.0", "port": 8000},
            "applications": {"app1": app("app1", serialised[2]), "app2": app("app2", serialised[3])},
        })
        .to_string(),
    );
}

/// Every route of the agent API that answers from Ray or the registry: method,
/// path, body, the status wanted, and a text the answer must still hold (so the
/// planted runtime_env came through, hidden rather than dropped).
const ROUTES: &[(&str, &str, &str, u16, &str)] = &[
    ("GET", "/health/", "", 200, "2.60.0"),
    ("GET", "/jobs/", "", 200, "store.example/app.zip"),
    (
        "GET",
        "/jobs/raysubmit_secret/",
        "",
        200,
        "store.example/app.zip",
    ),
    ("POST", "/jobs/raysubmit_secret/stop/", "", 200, "h.example"),
    (
        "GET",
        "/jobs/raysubmit_broken/",
        "",
        500,
        "store.example/app.zip",
    ),
    (
        "GET",
        "/jobs/raysubmit_broken/logs/",
        "",
        500,
        "store.example/app.zip",
    ),
    ("GET", "/nodes/", "", 200, DRIVER_NODE),
    ("GET", "/nodes/aaaa0000bbbb1111/", "", 200, DRIVER_NODE),
    ("GET", "/tasks/", "", 200, "store.example/app.zip"),
    (
        "GET",
        "/tasks/?job_id=raysubmit_secret",
        "",
        200,
        "store.example/app.zip",
    ),
    (
        "GET",
        "/tasks/39088be3736e590affffffffffffffffffffffff02000000/",
        "",
        200,
        "store.example/app.zip",
    ),
    (
        "GET",
        "/serve_applications/",
        "",
        200,
        "store.example/app.zip",
    ),
    (
        "GET",
        "/serve_applications/app1/",
        "",
        200,
        "store.example/app.zip",
    ),
    ("DELETE", "/serve_applications/app1/", "", 204, ""),
    ("GET", "/gpu_status/", "", 200, "total_gpus"),
    ("GET", "/plugin_releases/", "", 200, "store.example/app.zip"),
    (
        "GET",
        "/plugin_releases/private@1/",
        "",
        200,
        "store.example/app.zip",
    ),
    (
        "POST",
        "/plugin_releases/private@1/run/",
        r#"{"action": "go"}"#,
        200,
        "private@1",
    ),
];

/// A planted secret: a marker no answer holds by chance, then characters a
/// password or token may hold.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~!$&'()*+,;=-]{6,14}".prop_map(|s| format!("Zx{s}"))
}

/// Walks every route once with Ray's answers carrying `s`: what went wrong.
async fn walk(w: &World, s: &[String; 6]) -> Vec<String> {
    let mut wrong = Vec::new();
    let secrets: Vec<&str> = s
        .iter()
        .map(String::as_str)
        .chain(RELEASE_SECRETS)
        .collect();
    for (method, path, body, status, marker) in ROUTES {
        let (got, answer) = call(w.gateway, method, path, body).await;
        if got != *status {
            wrong.push(format!(
                "{method} {path}: {got} (wanted {status}): {answer}"
            ));
        }
        if !answer.contains(marker) {
            wrong.push(format!("{method} {path}: no {marker:?} in {answer}"));
        }
        for secret in &secrets {
            if answer.contains(secret) {
                wrong.push(format!("{method} {path}: {secret:?} came out in {answer}"));
            }
        }
    }
    // The delete sent Ray the other application's config with its credentials:
    // hiding them is for answers only.
    let sent = w
        .ray
        .bodies
        .lock()
        .unwrap()
        .iter()
        .rfind(|(path, _)| path.contains("serve"))
        .cloned();
    match sent {
        Some((_, config)) if config.contains(&s[0]) => {}
        other => wrong.push(format!(
            "the config PUT to Ray lost its credentials: {other:?}"
        )),
    }
    wrong
}

proptest! {
    #![proptest_config(support::replayed(24))]

    /// Generated Ray answers, credential-bearing runtime_envs nested in every
    /// route's answer, as objects or serialised into strings (compact or pretty):
    /// no planted secret comes out of any route, and each answer still shows the
    /// runtime_env with its secrets hidden.
    #[test]
    fn no_credential_from_ray_comes_out_of_any_route(
        s in prop::array::uniform6(secret()),
        shape in 0..3u8,
        serialised in prop::array::uniform4(any::<bool>()),
    ) {
        static WORLD: OnceLock<World> = OnceLock::new();
        let w = world(&WORLD);
        plant(&w.ray, &s, shape, serialised);
        let wrong = w.rt.block_on(walk(w, &s));
        prop_assert!(wrong.is_empty(), "{:#?}", wrong);
    }
}

/// The one fixed case of the property above, readable: Ray's serialized
/// runtime_env of a task comes out with its env_vars and passwords hidden and is
/// still a JSON string holding the rest.
#[test]
fn a_tasks_serialized_runtime_env_is_opened_and_hidden() {
    static WORLD: OnceLock<World> = OnceLock::new();
    let w = world(&WORLD);
    let s: [String; 6] = std::array::from_fn(|i| format!("ZxFixed{i}"));
    plant(&w.ray, &s, 0, [false; 4]);
    let (status, answer) = w.rt.block_on(call(
        w.gateway,
        "GET",
        "/tasks/39088be3736e590affffffffffffffffffffffff02000000/",
        "",
    ));
    assert_eq!(status, 200, "{answer}");
    let task: Value = serde_json::from_str(&answer).unwrap();
    let env: Value = serde_json::from_str(
        task["runtime_env_info"]["serialized_runtime_env"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        env["env_vars"],
        json!({"API_KEY": "[hidden]", "AGENT_ACTION": "go"})
    );
    assert_eq!(
        env["working_dir"],
        "https://[redacted]@store.example/app.zip"
    );
    assert_eq!(env["pip"][0], "--index-url [redacted]");
}

// -- item 4: ids from Ray's answers ------------------------------------------------

fn client(url: String) -> AsyncAgentClient {
    standin_client(url, TOKEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_driver_job_id_adds_no_filter_to_tasks() {
    let (ray, address, server) = standin::start(State::default()).await;
    let crafted = "02000000&filter_keys=state&filter_predicates=%3D&filter_values=RUNNING";
    ray.answer(
        "api/jobs/raysubmit_crafted",
        200,
        json!({"submission_id": "raysubmit_crafted", "job_id": crafted, "status": "RUNNING",
               "entrypoint": "x", "driver_node_id": DRIVER_NODE})
        .to_string(),
    );
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;
    let (status, answer) = call(
        gw.local_addr(),
        "GET",
        "/tasks/?job_id=raysubmit_crafted",
        "",
    )
    .await;
    assert_eq!(status, 502, "{answer}");
    assert!(
        answer.contains("Ray answered an invalid driver job id"),
        "{answer}"
    );
    assert_eq!(ray.requested("/api/v0/tasks"), 0);
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_submission_id_never_names_a_log_file() {
    let (ray, address, server) = standin::start(State::default()).await;
    // Asked for by its driver job id; Ray's answer names a submission id that
    // walks out of the log directory.
    ray.answer(
        "api/jobs/02000000",
        200,
        json!({"submission_id": "../../..\u{0}", "job_id": "02000000", "status": "SUCCEEDED",
               "entrypoint": "x", "driver_node_id": DRIVER_NODE})
        .to_string(),
    );
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;
    let (status, answer) = call(gw.local_addr(), "GET", "/jobs/02000000/logs/", "").await;
    assert_eq!(status, 502, "{answer}");
    assert!(
        answer.contains("Ray answered an invalid submission id"),
        "{answer}"
    );
    assert_eq!(ray.requested("/api/v0/logs/file"), 0);
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_ends_with_an_error_rather_than_read_a_crafted_log_file() {
    let (ray, address, server) = standin::start(State::default()).await;
    let mut job = Job::new(Log::plain("a\nb\n"));
    job.socket_sends = true;
    ray.add("raysubmit_tail", job);
    ray.answer(
        "api/jobs/raysubmit_tail",
        200,
        json!({"submission_id": "x/../../etc/passwd", "job_id": "02000000",
               "status": "SUCCEEDED", "entrypoint": "x", "driver_node_id": DRIVER_NODE})
        .to_string(),
    );
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;
    let client = client(gw.url());
    for protocol in [Protocol::WebSocket, Protocol::Http] {
        let err = collect(&client, "raysubmit_tail", tail_options(protocol))
            .await
            .expect_err("the tail cannot complete without its final log");
        assert!(
            err.to_string().contains("invalid submission id"),
            "{protocol}: {err}"
        );
    }
    assert_eq!(ray.requested("/api/v0/logs/file"), 0);
    gw.shutdown().await;
    server.abort();
}

/// Which field of Ray's job answer a case crafts.
#[derive(Debug, Clone, Copy)]
enum Crafted {
    Driver,
    Submission,
    Node,
}

proptest! {
    #![proptest_config(support::replayed(24))]

    /// Generated ids that break the id rules (characters that change a query or a
    /// path, control characters, too long), in each field of Ray's job answer that
    /// the gateway puts into a URL: the route using it answers 502 and Ray is
    /// never asked for that URL.
    #[test]
    fn no_crafted_id_from_ray_reaches_a_url(
        id in prop_oneof![
            "[0-9a-f]{0,8}[&=%/?#. +\\x00-\\x1f\"'<>\\\\]{1,4}[A-Za-z0-9=&]{0,12}",
            "[0-9a-f]{101,120}",
        ],
        field in prop_oneof![
            Just(Crafted::Driver),
            Just(Crafted::Submission),
            Just(Crafted::Node),
        ],
    ) {
        static WORLD: OnceLock<World> = OnceLock::new();
        let w = world(&WORLD);
        let mut job = json!({"submission_id": "raysubmit_case", "job_id": "02000000",
                             "status": "SUCCEEDED", "entrypoint": "x",
                             "driver_node_id": DRIVER_NODE});
        let (key, route, ray_path, what) = match field {
            Crafted::Driver => ("job_id", "/tasks/?job_id=raysubmit_case", "/api/v0/tasks", "driver job id"),
            Crafted::Submission => ("submission_id", "/jobs/raysubmit_case/logs/", "/api/v0/logs/file", "submission id"),
            Crafted::Node => ("driver_node_id", "/jobs/raysubmit_case/logs/", "/api/v0/logs/file", "node id"),
        };
        // A long hex id is a valid submission id (hex digits follow JobId's rule)
        // only when it fits; 101 or more characters never do.
        job[key] = json!(id);
        w.ray.answer("api/jobs/raysubmit_case", 200, job.to_string());
        let before = w.ray.requested(ray_path);
        let (status, answer) = w.rt.block_on(call(w.gateway, "GET", route, ""));
        prop_assert_eq!(status, 502, "{}", answer);
        let wanted = format!("Ray answered an invalid {what}");
        prop_assert!(answer.contains(&wanted), "{}", answer);
        prop_assert_eq!(w.ray.requested(ray_path), before);
    }
}

// -- item 5: links -----------------------------------------------------------------

fn page(answer: &str) -> Value {
    serde_json::from_str(answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_links_ignore_a_hostile_host_header() {
    let (_ray, address, server) = standin::start(State::default()).await;
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN).plugins(registry())).await;
    let headers = [("host", "evil.example"), ("authorization", TOKEN)];
    let (status, answer) = raw_request(
        gw.local_addr(),
        "GET",
        "/plugin_releases/?page=2&page_size=1",
        &headers,
        "",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(!answer.contains("evil.example"), "{answer}");
    let p = page(&answer);
    assert_eq!(p["next"], "plugin_releases/?page=3&page_size=1");
    assert_eq!(p["previous"], "plugin_releases/?page=1&page_size=1");

    // The filters stay in the links (a client following `next` keeps them).
    let (_, answer) = raw_request(
        gw.local_addr(),
        "GET",
        "/plugin_releases/?plugin=hello&page_size=1",
        &headers,
        "",
    )
    .await;
    assert_eq!(
        page(&answer)["next"],
        "plugin_releases/?plugin=hello&page=2&page_size=1"
    );
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_public_url_makes_links_absolute_whatever_the_host() {
    let (_ray, address, server) = standin::start(State::default()).await;
    let mut config = GatewayConfig::new(address.clone(), TOKEN).plugins(registry());
    config.public_url = Some("https://agent.example/api".into());
    let gw = standin_gateway(config).await;
    let (_, answer) = raw_request(
        gw.local_addr(),
        "GET",
        "/plugin_releases/?page_size=2",
        &[("host", "evil.example"), ("authorization", TOKEN)],
        "",
    )
    .await;
    let p = page(&answer);
    assert_eq!(
        p["next"],
        "https://agent.example/api/plugin_releases/?page=2&page_size=2"
    );
    assert!(!answer.contains("evil.example"), "{answer}");
    gw.shutdown().await;

    // A public URL that is not one is refused at start.
    let mut config = GatewayConfig::new(address, TOKEN);
    config.public_url = Some("evil.example".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = Gateway::start(config, listener).await.unwrap_err();
    assert!(err.to_string().contains("public URL"), "{err}");
    server.abort();
}

/// synapse-sdk's `list_all` requests `next` as it is when it starts with its base
/// URL, and `os.path.join(base_url, next)` otherwise: followed that way, the
/// relative links reach every release once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_next_as_the_sdk_does_lists_every_release() {
    let (_ray, address, server) = standin::start(State::default()).await;
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN).plugins(registry())).await;
    let base = gw.url();
    let mut url = format!("{base}plugin_releases/?page_size=1");
    let mut seen = Vec::new();
    loop {
        let path = url.strip_prefix(base.trim_end_matches('/')).unwrap();
        let (status, answer) = raw_request(
            gw.local_addr(),
            "GET",
            path,
            &[("host", "evil.example"), ("authorization", TOKEN)],
            "",
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let p = page(&answer);
        for r in p["results"].as_array().unwrap() {
            seen.push(r["lookup"].as_str().unwrap().to_owned());
        }
        match p["next"].as_str() {
            Some(next) if next.starts_with(&base) => url = next.to_owned(),
            // os.path.join(base_url, next) for a relative `next`
            Some(next) => url = format!("{}/{next}", base.trim_end_matches('/')),
            None => break,
        }
    }
    assert_eq!(seen, ["private@1", "hello@1", "hello@2"]);
    gw.shutdown().await;
    server.abort();
}
