//! Queue URLs: the forms Kumo issues and every form it resolves.
//!
//! A queue is named by account, region and name, and its URL carries all three so that a client
//! that only knows Kumo's address reaches the right queue whatever region it signs for:
//! - path form (default): `http://<kumo host>/queue/<region>/<account>/<name>`;
//! - host form (`KUMO_SQS_URL_STYLE=host`): `http://sqs.<region>.localhost:<port>/<account>/<name>`,
//!   shaped like AWS's `https://sqs.<region>.amazonaws.com/<account>/<name>`;
//! - legacy form, kept by queues created before URLs carried the region:
//!   `http://<kumo host>/<account>/<name>`, resolved in the caller's region.
//!
//! Any of them resolves, whoever issued it, and so does a bare queue name (the caller's own
//! queue in the caller's region), as AWS accepts.

/// How Kumo writes the URLs of queues created from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlStyle {
    /// `http://<kumo host>/queue/<region>/<account>/<name>`: reachable through Kumo's address.
    #[default]
    Path,
    /// `http://sqs.<region>.localhost:<port>/<account>/<name>` (or `sqs.<region>.<domain>` when
    /// the client addressed Kumo as `sqs.<some region>.<domain>`).
    Host,
}

impl std::str::FromStr for UrlStyle {
    type Err = String;

    /// `path` or `host`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "path" => Ok(Self::Path),
            "host" => Ok(Self::Host),
            other => Err(format!("unknown queue URL style {other:?} (expected path or host)")),
        }
    }
}

/// What a `QueueUrl` parameter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAddress<'a> {
    /// The region the URL names; `None`: the caller's.
    pub region: Option<&'a str>,
    /// The owning account; `None` (a bare name): the caller's.
    pub account: Option<&'a str>,
    /// The queue's name.
    pub name: &'a str,
}

/// Parses a `QueueUrl` in any form Kumo has issued (or AWS's), or a bare queue name; `None`
/// for anything else.
pub fn parse(url: &str) -> Option<QueueAddress<'_>> {
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').unwrap_or((rest, "")),
        None if !url.contains('/') => return Some(QueueAddress { region: None, account: None, name: url }),
        None => ("", url),
    };
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    match segments.as_slice() {
        ["queue", region, account, name] => Some(QueueAddress { region: Some(region), account: Some(account), name }),
        [account, name] => Some(QueueAddress { region: region_of_host(host), account: Some(account), name }),
        _ => None,
    }
}

/// The region a regional SQS host names: `sqs.<region>.<domain>` (AWS's and Kumo's host form)
/// or `<region>.queue.amazonaws.com` (AWS's legacy form).
fn region_of_host(host: &str) -> Option<&str> {
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let mut labels = host.split('.');
    let (first, second) = (labels.next()?, labels.next()?);
    labels.next()?;
    let region = match (first, second) {
        ("sqs", region) => region,
        (region, "queue") => region,
        _ => return None,
    };
    looks_like_region(region).then_some(region)
}

/// `xx-name-N` (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`): not `localhost`, not a port.
fn looks_like_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
        && parts.last().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
}

/// The URL of queue `account`/`region`/`name` for a client that addressed Kumo at `endpoint`
/// (`http://<host>[:port]`).
pub fn format(endpoint: &str, style: UrlStyle, legacy: bool, region: &str, account: &str, name: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if legacy {
        return format!("{endpoint}/{account}/{name}");
    }
    match style {
        UrlStyle::Path => format!("{endpoint}/queue/{region}/{account}/{name}"),
        UrlStyle::Host => {
            let (scheme, authority) = endpoint.split_once("://").unwrap_or(("http", endpoint));
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (host, Some(port)),
                _ => (authority, None),
            };
            // A client that already addresses Kumo by a regional host keeps its domain.
            let domain = match region_of_host(host) {
                Some(_) => host.splitn(3, '.').nth(2).unwrap_or("localhost"),
                None => "localhost",
            };
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            format!("{scheme}://sqs.{region}.{domain}{port}/{account}/{name}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address<'a>(region: Option<&'a str>, account: Option<&'a str>, name: &'a str) -> Option<QueueAddress<'a>> {
        Some(QueueAddress { region, account, name })
    }

    #[test]
    fn every_issued_form_resolves() {
        let path = "http://localhost:4566/queue/eu-west-1/000000000000/jobs";
        assert_eq!(parse(path), address(Some("eu-west-1"), Some("000000000000"), "jobs"));
        let host = "http://sqs.eu-west-1.localhost:4566/000000000000/jobs";
        assert_eq!(parse(host), address(Some("eu-west-1"), Some("000000000000"), "jobs"));
        let aws = "https://sqs.us-east-2.amazonaws.com/123456789012/jobs.fifo";
        assert_eq!(parse(aws), address(Some("us-east-2"), Some("123456789012"), "jobs.fifo"));
        let aws_legacy = "https://ap-south-1.queue.amazonaws.com/123456789012/jobs";
        assert_eq!(parse(aws_legacy), address(Some("ap-south-1"), Some("123456789012"), "jobs"));
        let legacy = "http://127.0.0.1:4566/000000000000/jobs";
        assert_eq!(parse(legacy), address(None, Some("000000000000"), "jobs"));
        assert_eq!(parse("http://sqs.localhost:4566/1/jobs"), address(None, Some("1"), "jobs"));
        assert_eq!(parse("/000000000000/jobs"), address(None, Some("000000000000"), "jobs"));
        assert_eq!(parse("jobs"), address(None, None, "jobs"));
    }

    #[test]
    fn other_shapes_are_not_queue_urls() {
        for url in ["http://localhost:4566/", "http://localhost:4566/jobs", "http://h/a/b/c", "/a/b/c", "http://h"] {
            assert_eq!(parse(url), None, "{url}");
        }
    }

    #[test]
    fn issued_forms() {
        let endpoint = "http://localhost:4566";
        let path = format(endpoint, UrlStyle::Path, false, "eu-west-1", "000000000000", "jobs");
        assert_eq!(path, "http://localhost:4566/queue/eu-west-1/000000000000/jobs");
        let host = format(endpoint, UrlStyle::Host, false, "eu-west-1", "000000000000", "jobs");
        assert_eq!(host, "http://sqs.eu-west-1.localhost:4566/000000000000/jobs");
        let regional = format("http://sqs.us-east-1.kumo.test", UrlStyle::Host, false, "eu-west-1", "1", "q");
        assert_eq!(regional, "http://sqs.eu-west-1.kumo.test/1/q");
        let legacy = format(endpoint, UrlStyle::Path, true, "eu-west-1", "000000000000", "jobs");
        assert_eq!(legacy, "http://localhost:4566/000000000000/jobs");
        for url in [path, host, regional] {
            assert!(parse(&url).unwrap().region == Some("eu-west-1"), "{url}");
        }
    }
}
