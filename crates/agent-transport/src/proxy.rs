//! Which proxy, if any, a connection goes through.
//!
//! The rules are hyper-util's `Matcher` (the ones curl and reqwest follow):
//! `HTTPS_PROXY` for `https://` and `wss://`, `HTTP_PROXY` for `http://` and `ws://`,
//! `ALL_PROXY` for both when the specific one is unset (upper case first, then lower
//! case), and `NO_PROXY`: a comma-separated list of host names (a name also covers
//! its subdomains, a leading dot is optional), IP addresses, CIDR ranges and `*`
//! (everything). Like reqwest, the environment is read once, when the transport is
//! built, and not at all once the builder was given proxies of its own or told to
//! use none. `HTTP_PROXY` is ignored under CGI (`REQUEST_METHOD` set), where it can
//! come from a request header (httpoxy).
//!
//! How a proxied connection is made is the connector's business: a `CONNECT` tunnel
//! for `https`, `wss` and `ws`, a plain connection to the proxy with requests in
//! absolute form for `http`.

use agent_proto::ClientError;
use http::{HeaderValue, Uri};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use std::fmt;
use std::sync::Arc;

/// Where an [`HttpTransport`](crate::HttpTransport)'s connections go: through the
/// proxies the environment names (the default), through proxies given here, or
/// straight to the agent.
///
/// Proxy credentials (`http://user:password@proxy:3128`) are sent as
/// `Proxy-Authorization: Basic ...` and never appear in an error, a `Debug` print or
/// a log line.
///
/// ```
/// use agent_transport::{HttpTransport, Proxy};
///
/// // Everything through one proxy, except the agent's own network.
/// let proxy = Proxy::all("http://user:secret@proxy.internal:3128")?
///     .no_proxy("localhost, .cluster.local, 10.0.0.0/8");
/// assert!(!format!("{proxy:?}").contains("secret"));
/// let transport = HttpTransport::builder("https://agent.example.com/")
///     .proxy(proxy)
///     .build()?;
/// # drop(transport);
/// // Straight to the agent, whatever the environment says.
/// let direct = HttpTransport::builder("https://agent.example.com/")
///     .proxy(Proxy::none())
///     .build()?;
/// # drop(direct);
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Clone)]
pub struct Proxy {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Env,
    None,
    Explicit {
        http: Option<String>,
        https: Option<String>,
        no: String,
    },
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Env => f.write_str("Proxy::from_env"),
            Source::None => f.write_str("Proxy::none"),
            Source::Explicit { http, https, no } => f
                .debug_struct("Proxy")
                .field("http", &http.as_deref().map(without_userinfo))
                .field("https", &https.as_deref().map(without_userinfo))
                .field("no_proxy", no)
                .finish(),
        }
    }
}

impl Default for Proxy {
    /// [`Proxy::from_env`].
    fn default() -> Self {
        Proxy::from_env()
    }
}

impl Proxy {
    /// The proxies `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` name
    /// (or their lower-case forms), read when the transport is built. The default.
    pub fn from_env() -> Self {
        Proxy {
            source: Source::Env,
        }
    }

    /// No proxy: every connection goes straight to the agent, whatever the
    /// environment says.
    pub fn none() -> Self {
        Proxy {
            source: Source::None,
        }
    }

    /// Every connection through the proxy at `url`, `http://[user:password@]host:port`
    /// (a 400 for another scheme or a URL without a host).
    pub fn all(url: &str) -> Result<Self, ClientError> {
        check_proxy_url(url)?;
        Ok(Proxy {
            source: Source::Explicit {
                http: Some(url.to_owned()),
                https: Some(url.to_owned()),
                no: String::new(),
            },
        })
    }

    /// `http://` and `ws://` connections through the proxy at `url`; others go
    /// straight to the agent unless [`Proxy::https`] names a proxy for them too.
    pub fn http(url: &str) -> Result<Self, ClientError> {
        check_proxy_url(url)?;
        Ok(Proxy {
            source: Source::Explicit {
                http: Some(url.to_owned()),
                https: None,
                no: String::new(),
            },
        })
    }

    /// `https://` and `wss://` connections through the proxy at `url`.
    pub fn https(url: &str) -> Result<Self, ClientError> {
        Proxy::none().and_https(url)
    }

    /// Adds a proxy for `https://` and `wss://` to this one (a 400 on a bad URL).
    pub fn and_https(self, url: &str) -> Result<Self, ClientError> {
        check_proxy_url(url)?;
        let (http, no) = match self.source {
            Source::Explicit { http, no, .. } => (http, no),
            Source::Env | Source::None => (None, String::new()),
        };
        Ok(Proxy {
            source: Source::Explicit {
                http,
                https: Some(url.to_owned()),
                no,
            },
        })
    }

    /// Hosts reached without the proxy, in `NO_PROXY`'s syntax: `localhost,
    /// .example.com, 192.168.1.7, 10.0.0.0/8, ::1` or `*`. Only for proxies given
    /// here; the environment's proxies take the environment's `NO_PROXY`.
    pub fn no_proxy(mut self, list: &str) -> Self {
        if let Source::Explicit { no, .. } = &mut self.source {
            *no = list.to_owned();
        }
        self
    }

    /// Resolves the settings into rules (reads the environment for
    /// [`Proxy::from_env`]).
    pub(crate) fn rules(&self) -> Rules {
        let matcher = match &self.source {
            Source::None => return Rules { matcher: None },
            Source::Env => {
                // The same variable hyper-util's matcher reads (the first one set).
                let no = ["NO_PROXY", "no_proxy"]
                    .iter()
                    .find_map(|k| std::env::var(k).ok())
                    .unwrap_or_default();
                if is_star(&no) {
                    return Rules { matcher: None };
                }
                Matcher::from_env()
            }
            Source::Explicit { http, https, no } => {
                if is_star(no) {
                    return Rules { matcher: None };
                }
                let mut b = Matcher::builder().no(no.as_str());
                if let Some(h) = http {
                    b = b.http(h.as_str());
                }
                if let Some(h) = https {
                    b = b.https(h.as_str());
                }
                b.build()
            }
        };
        Rules {
            matcher: Some(Arc::new(matcher)),
        }
    }
}

/// The resolved proxy rules a connector follows.
#[derive(Clone, Default)]
pub(crate) struct Rules {
    matcher: Option<Arc<Matcher>>,
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // hyper-util's Matcher prints no credentials.
        match &self.matcher {
            Some(m) => m.fmt(f),
            None => f.write_str("no proxy"),
        }
    }
}

/// The proxy to go through for one destination.
#[derive(Clone)]
pub(crate) struct Route {
    /// `http://host:port/` of the proxy, without credentials.
    pub(crate) uri: Uri,
    /// `Basic ...`, marked sensitive.
    pub(crate) auth: Option<HeaderValue>,
}

impl Route {
    /// `host:port` of the proxy, for messages.
    pub(crate) fn name(&self) -> String {
        self.uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default()
    }
}

impl Rules {
    /// The proxy for `dst` (an `http` or `https` URI), if any.
    pub(crate) fn route(&self, dst: &Uri) -> Option<Route> {
        let intercept: Intercept = self.matcher.as_ref()?.intercept(dst)?;
        let mut auth = intercept.basic_auth().cloned();
        if let Some(a) = &mut auth {
            a.set_sensitive(true);
        }
        Some(Route {
            uri: intercept.uri().clone(),
            auth,
        })
    }
}

/// Whether a `NO_PROXY` list holds `*`, which sends everything direct. (hyper-util's
/// matcher applies `*` to host names only, not to IP addresses; curl applies it to
/// every host, and so do we. Found by `properties::star_covers_every_host`.)
fn is_star(no_proxy: &str) -> bool {
    no_proxy.split(',').any(|entry| entry.trim() == "*")
}

/// Checks a proxy URL given to the builder: `http://[userinfo@]host[:port][/]`.
fn check_proxy_url(url: &str) -> Result<(), ClientError> {
    let bad = |reason: &str| ClientError::invalid("proxy URL", reason.to_owned());
    // The message never repeats the URL: it may hold a password.
    let uri: Uri = url
        .parse()
        .map_err(|_| bad("not a valid URL (expected http://host:port)"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(bad(
                "https:// proxies are not supported; use http:// (connections to an \
                 https:// agent are still end-to-end TLS through the tunnel)",
            ))
        }
        _ => return Err(bad("the scheme must be http://")),
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    let host = authority
        .as_str()
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("no host"));
    }
    Ok(())
}

/// `url` with any `user:password@` removed, for `Debug`.
fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn explicit_proxies_pick_by_scheme() {
        let p = Proxy::http("http://p1:3128")
            .unwrap()
            .and_https("http://p2:3129")
            .unwrap()
            .rules();
        assert_eq!(p.route(&uri("http://a/")).unwrap().name(), "p1:3128");
        assert_eq!(p.route(&uri("https://a/")).unwrap().name(), "p2:3129");
        let only_http = Proxy::http("http://p1:3128").unwrap().rules();
        assert!(only_http.route(&uri("https://a/")).is_none());
        assert!(Proxy::none().rules().route(&uri("http://a/")).is_none());
    }

    #[test]
    fn credentials_become_a_sensitive_basic_header_and_never_print() {
        let p = Proxy::all("http://Aladdin:open%20sesame@proxy:8080").unwrap();
        let printed = format!("{p:?}");
        assert!(
            !printed.contains("Aladdin") && !printed.contains("sesame"),
            "{printed}"
        );
        let rules = p.rules();
        assert!(!format!("{rules:?}").contains("sesame"));
        let route = rules.route(&uri("https://agent/")).unwrap();
        let auth = route.auth.unwrap();
        assert!(auth.is_sensitive());
        // base64("Aladdin:open sesame")
        assert_eq!(auth, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(route.uri.to_string(), "http://proxy:8080/");
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_echoing_them() {
        for bad in [
            "https://u:hunter2@p:1",
            "socks5://u:hunter2@p:1",
            "ftp://p",
            "http://u:hunter2@",
            "not a url hunter2",
        ] {
            let e = Proxy::all(bad).unwrap_err();
            assert_eq!(e.status_code(), 400, "{bad}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn no_proxy_covers_names_suffixes_ips_cidrs_and_star() {
        let p = Proxy::all("http://p:1")
            .unwrap()
            .no_proxy("localhost, .internal.example, corp.example, 192.168.1.7, 10.0.0.0/8, ::1")
            .rules();
        for direct in [
            "http://localhost:8000/",
            "https://agent.internal.example/",
            "https://corp.example/",
            "https://a.b.corp.example/",
            "http://192.168.1.7/",
            "http://10.200.3.4:8265/",
            "http://[::1]:80/",
        ] {
            assert!(p.route(&uri(direct)).is_none(), "{direct}");
        }
        for proxied in [
            "https://agent.example.com/",
            "https://notcorp.example/",
            "http://192.168.1.8/",
            "http://11.0.0.1/",
        ] {
            assert!(p.route(&uri(proxied)).is_some(), "{proxied}");
        }
        let star = Proxy::all("http://p:1").unwrap().no_proxy("*").rules();
        assert!(star.route(&uri("https://anything/")).is_none());
    }
}

/// `NO_PROXY` is a promise about every host, so its rules are checked on generated
/// names and addresses, not only on the examples above.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn rules(no: &str) -> Rules {
        Proxy::all("http://proxy.invalid:3128")
            .unwrap()
            .no_proxy(no)
            .rules()
    }

    fn goes_direct(rules: &Rules, host: &str) -> bool {
        let uri: Uri = format!("https://{host}/").parse().unwrap();
        rules.route(&uri).is_none()
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,8}"
    }

    proptest! {
        #[test]
        fn a_domain_covers_itself_and_its_subdomains_only(
            domain in proptest::collection::vec(label(), 1..4).prop_map(|l| l.join(".")),
            sub in proptest::collection::vec(label(), 1..3).prop_map(|l| l.join(".")),
            glued in label(),
            dot in any::<bool>(),
        ) {
            let entry = if dot { format!(".{domain}") } else { domain.clone() };
            let r = rules(&format!("unrelated.test, {entry}"));
            prop_assert!(goes_direct(&r, &domain));
            let subdomain = format!("{sub}.{domain}");
            let glued_on = format!("{glued}{domain}");
            // `-` never occurs in a generated label, so this last label is never the
            // domain's own (`yx.yx` would be a real subdomain of `yx`).
            let extended = format!("{domain}.{glued}-x");
            prop_assert!(goes_direct(&r, &subdomain));
            // A name that merely ends with the same letters is another domain.
            prop_assert!(!goes_direct(&r, &glued_on));
            prop_assert!(!goes_direct(&r, &extended));
        }

        #[test]
        fn a_cidr_covers_exactly_its_addresses(addr in any::<u32>(), len in 1u32..=32, low in any::<u32>()) {
            let mask = u32::MAX << (32 - len);
            let net = addr & mask;
            let r = rules(&format!("{}/{len}", Ipv4Addr::from(net)));
            let inside = net | (low & !mask);
            prop_assert!(goes_direct(&r, &Ipv4Addr::from(inside).to_string()));
            // Flip one bit of the network part: outside.
            let outside = inside ^ (1 << (32 - len));
            prop_assert!(!goes_direct(&r, &Ipv4Addr::from(outside).to_string()));
        }

        #[test]
        fn an_address_covers_only_itself(a in any::<u32>(), b in any::<u32>()) {
            let r = rules(&Ipv4Addr::from(a).to_string());
            prop_assert!(goes_direct(&r, &Ipv4Addr::from(a).to_string()));
            prop_assert_eq!(goes_direct(&r, &Ipv4Addr::from(b).to_string()), a == b);
        }

        #[test]
        fn star_covers_every_host(host in proptest::collection::vec(label(), 1..4).prop_map(|l| l.join(".")), ip in any::<u32>()) {
            let r = rules("*");
            prop_assert!(goes_direct(&r, &host));
            prop_assert!(goes_direct(&r, &Ipv4Addr::from(ip).to_string()));
        }
    }
}
