//! Where a recording's file is: the `--verify RULE` values (`[PROVIDER[:DOMAIN]=]LOCATION`),
//! the `--verify-path-map FROM=TO` rewrites, and the [`Target`] (store and path) one file is
//! read at. Pure: parsing and string joins only.
//!
//! LOCATION is one of `oss://BUCKET[/PREFIX]`, `cos://BUCKET[/PREFIX]`,
//! `s3://BUCKET[/PREFIX]` (each with an optional `?endpoint=URL&region=R`; `s3://` needs the
//! endpoint), `file:///DIR`, `local`, `http`. The most specific rule wins: PROVIDER:DOMAIN,
//! then PROVIDER, then a rule with neither.

use std::path::{Component, Path, PathBuf};

use crate::event::Provider;

use super::verdict::Unchecked;

/// A bucket on an S3-like store, and where in it recordings are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket's name.
    pub bucket: String,
    /// The key prefix (no leading or trailing `/`; empty for the bucket's root).
    pub prefix: String,
    /// `?endpoint=URL`, when given.
    pub endpoint: Option<String>,
    /// `?region=R`, when given.
    pub region: Option<String>,
}

/// Where the files a rule covers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Alibaba Cloud OSS: the callback's `uri` is the object key.
    Oss(Bucket),
    /// Tencent Cloud COS.
    Cos(Bucket),
    /// Any S3-protocol store (its endpoint given).
    S3(Bucket),
    /// A directory that the key is joined to (a bucket mounted with ossfs; tests).
    File(PathBuf),
    /// The path the callback names, on this host (after `--verify-path-map`).
    Local,
    /// The `http(s)://` URL the callback names, read with range requests.
    Http,
}

/// One `--verify` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The provider it is for, or any.
    pub provider: Option<Provider>,
    /// The domain it is for (with a provider), or any.
    pub domain: Option<String>,
    /// Where that provider's (and domain's) files are.
    pub location: Location,
}

/// One `--verify-path-map FROM=TO`: a path starting with FROM (whole segments) is read at TO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMap {
    /// The prefix as the media server names it.
    pub from: String,
    /// The same directory on this host.
    pub to: String,
}

/// Every `--verify` rule and `--verify-path-map`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
    maps: Vec<PathMap>,
}

/// A file to read: which store, and the path in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The store.
    pub store: Store,
    /// The path within the store (an object key, a path under the root, a URL's path).
    pub path: String,
}

/// A store OpenDAL opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// OSS (its own protocol).
    Oss(Bucket),
    /// COS (its own protocol).
    Cos(Bucket),
    /// S3 protocol.
    S3(Bucket),
    /// A local directory (`/` for `local`).
    Fs(PathBuf),
    /// An HTTP(S) server: `scheme://authority`.
    Http(String),
}

impl Rules {
    /// Parses every `--verify` value and every `--verify-path-map` value. The message of an
    /// error names the value and says what was expected.
    pub fn parse(verify: &[String], path_maps: &[String]) -> Result<Rules, String> {
        let mut rules: Vec<Rule> = Vec::new();
        for v in verify {
            let rule = parse_rule(v).map_err(|e| format!("--verify {v:?}: {e}"))?;
            if rules
                .iter()
                .any(|r| r.provider == rule.provider && r.domain == rule.domain)
            {
                return Err(format!(
                    "--verify {v:?}: a rule for the same provider and domain is given twice"
                ));
            }
            rules.push(rule);
        }
        let mut maps = Vec::new();
        for m in path_maps {
            let (from, to) = m.split_once('=').ok_or_else(|| {
                format!("--verify-path-map {m:?}: expected FROM=TO, e.g. /data/record=/mnt/record")
            })?;
            if !from.starts_with('/') || !to.starts_with('/') {
                return Err(format!(
                    "--verify-path-map {m:?}: FROM and TO must be absolute paths"
                ));
            }
            maps.push(PathMap {
                from: from.trim_end_matches('/').to_string(),
                to: to.trim_end_matches('/').to_string(),
            });
        }
        // The longest FROM first, so the most specific map wins.
        maps.sort_by_key(|m: &PathMap| std::cmp::Reverse(m.from.len()));
        Ok(Rules { rules, maps })
    }

    /// True when no rule was given (verification is off).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, as given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The path maps, the longest FROM first.
    pub fn path_maps(&self) -> &[PathMap] {
        &self.maps
    }

    /// The location of the files of this provider and domain: the most specific rule's.
    pub fn for_file(&self, provider: Provider, domain: &str) -> Option<&Location> {
        let exact = self
            .rules
            .iter()
            .find(|r| r.provider == Some(provider) && r.domain.as_deref() == Some(domain));
        let by_provider = || {
            self.rules
                .iter()
                .find(|r| r.provider == Some(provider) && r.domain.is_none())
        };
        let any = || {
            self.rules
                .iter()
                .find(|r| r.provider.is_none() && r.domain.is_none())
        };
        exact.or_else(by_provider).or_else(any).map(|r| &r.location)
    }
}

fn parse_rule(v: &str) -> Result<Rule, String> {
    let bare = ["oss://", "cos://", "s3://", "file://"]
        .iter()
        .any(|s| v.starts_with(s))
        || v == "local"
        || v == "http";
    let (provider, domain, loc) = if bare {
        (None, None, v)
    } else {
        let (who, loc) = v.split_once('=').ok_or(
            "expected [PROVIDER[:DOMAIN]=]LOCATION, LOCATION one of oss://BUCKET[/PREFIX], cos://BUCKET[/PREFIX], s3://BUCKET[/PREFIX]?endpoint=URL, file:///DIR, local, http",
        )?;
        let (name, domain) = match who.split_once(':') {
            Some((n, d)) if !d.is_empty() => (n, Some(d.to_string())),
            Some(_) => return Err("the domain after PROVIDER: is empty".into()),
            None => (who, None),
        };
        let p = Provider::from_name(name).ok_or_else(|| {
            format!(
                "unknown provider {name:?}; one of {}",
                Provider::ALL.map(Provider::as_str).join(", ")
            )
        })?;
        (Some(p), domain, loc)
    };
    Ok(Rule {
        provider,
        domain,
        location: parse_location(loc)?,
    })
}

fn parse_location(v: &str) -> Result<Location, String> {
    match v {
        "local" => return Ok(Location::Local),
        "http" => return Ok(Location::Http),
        _ => {}
    }
    if let Some(dir) = v.strip_prefix("file://") {
        if !dir.starts_with('/') {
            return Err("file:// needs an absolute directory: file:///DIR".into());
        }
        return Ok(Location::File(PathBuf::from(dir)));
    }
    let (scheme, rest) = v
        .split_once("://")
        .ok_or("unknown location; one of oss://, cos://, s3://, file:///DIR, local, http")?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let (bucket, prefix) = match path.split_once('/') {
        Some((b, p)) => (b, p.trim_matches('/')),
        None => (path, ""),
    };
    if bucket.is_empty() {
        return Err(format!(
            "{scheme}:// needs a bucket: {scheme}://BUCKET[/PREFIX]"
        ));
    }
    let mut b = Bucket {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        endpoint: None,
        region: None,
    };
    for pair in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        match pair.split_once('=') {
            Some(("endpoint", e)) if e.starts_with("http://") || e.starts_with("https://") => {
                b.endpoint = Some(e.trim_end_matches('/').to_string())
            }
            Some(("endpoint", _)) => {
                return Err("endpoint must be an http:// or https:// URL".into())
            }
            Some(("region", r)) if !r.is_empty() => b.region = Some(r.to_string()),
            _ => {
                return Err(format!(
                    "unknown parameter {pair:?}; endpoint=URL and region=R are known"
                ))
            }
        }
    }
    match scheme {
        // The store's address comes from one of them: without either, every file would be
        // unchecked, so the rule is refused at start instead.
        "oss" | "cos" if b.endpoint.is_none() && b.region.is_none() => Err(format!(
            "{scheme}:// needs its region or endpoint: {scheme}://BUCKET[/PREFIX]?region=R (or ?endpoint=URL)"
        )),
        "oss" => Ok(Location::Oss(b)),
        "cos" => Ok(Location::Cos(b)),
        "s3" if b.endpoint.is_none() => {
            Err("s3:// needs its endpoint: s3://BUCKET[/PREFIX]?endpoint=URL[&region=R]".into())
        }
        "s3" => Ok(Location::S3(b)),
        _ => Err(format!(
            "unknown scheme {scheme}://; one of oss://, cos://, s3://, file://"
        )),
    }
}

/// True when a relative key or path has no `..` and no root in it (it cannot leave the
/// directory or prefix it is joined to).
fn contained(key: &str) -> bool {
    Path::new(key)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

impl Location {
    /// Where the file a callback names (`file`: an object key, a path on the media server,
    /// or a URL) is read, or why it cannot be.
    pub fn target(&self, file: &str, maps: &[PathMap]) -> Result<Target, Unchecked> {
        // A callback that names a URL (Tencent's `video_url`) names the object by its path.
        let file = match file.split_once("://") {
            Some((_, rest))
                if matches!(
                    self,
                    Location::Oss(_) | Location::Cos(_) | Location::S3(_) | Location::File(_)
                ) =>
            {
                let path = rest.find('/').map_or("", |i| &rest[i..]);
                path.split(['?', '#']).next().unwrap_or("")
            }
            _ => file,
        };
        let key = |b: &Bucket| -> Result<String, Unchecked> {
            let k = file.trim_start_matches('/');
            if k.is_empty() || k.contains('\0') {
                return Err(Unchecked::NoRule);
            }
            Ok(if b.prefix.is_empty() {
                k.to_string()
            } else {
                format!("{}/{k}", b.prefix)
            })
        };
        match self {
            Location::Oss(b) => Ok(Target {
                path: key(b)?,
                store: Store::Oss(b.clone()),
            }),
            Location::Cos(b) => Ok(Target {
                path: key(b)?,
                store: Store::Cos(b.clone()),
            }),
            Location::S3(b) => Ok(Target {
                path: key(b)?,
                store: Store::S3(b.clone()),
            }),
            Location::File(dir) => {
                let k = file.trim_start_matches('/');
                if k.is_empty() || !contained(k) {
                    return Err(Unchecked::NoRule);
                }
                Ok(Target {
                    store: Store::Fs(dir.clone()),
                    path: k.to_string(),
                })
            }
            Location::Local => {
                let mapped = map_path(file, maps);
                let rel = mapped.strip_prefix('/').ok_or(Unchecked::NoRule)?;
                if rel.is_empty() || !contained(rel) {
                    return Err(Unchecked::NoRule);
                }
                Ok(Target {
                    store: Store::Fs(PathBuf::from("/")),
                    path: rel.to_string(),
                })
            }
            Location::Http => {
                let (scheme, rest) = file.split_once("://").ok_or(Unchecked::NoRule)?;
                if scheme != "http" && scheme != "https" {
                    return Err(Unchecked::NoRule);
                }
                let (authority, path) = match rest.find('/') {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, ""),
                };
                if authority.is_empty() || path.is_empty() || authority.contains('@') {
                    return Err(Unchecked::NoRule);
                }
                Ok(Target {
                    store: Store::Http(format!("{scheme}://{authority}")),
                    path: path.to_string(),
                })
            }
        }
    }
}

/// `path` with the first (longest) matching `--verify-path-map` applied.
pub fn map_path(path: &str, maps: &[PathMap]) -> String {
    for m in maps {
        if let Some(rest) = path.strip_prefix(&m.from) {
            if rest.is_empty() || rest.starts_with('/') {
                return format!("{}{rest}", m.to);
            }
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: &[&str], maps: &[&str]) -> Result<Rules, String> {
        let s = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Rules::parse(&s(v), &s(maps))
    }

    #[test]
    fn parses_each_location() {
        let r = rules(
            &[
                "aliyun=oss://rec-bucket/live?region=cn-shanghai",
                "aliyun:b.example.com=s3://other?endpoint=http://127.0.0.1:9000&region=us-east-1",
                "tencent=http",
                "nginx-rtmp=local",
                "srs:x.com=file:///mnt/rec",
                "cos://bucket-125?region=ap-guangzhou",
            ],
            &["/data/rec=/mnt/rec"],
        )
        .unwrap();
        assert_eq!(
            r.for_file(Provider::Aliyun, "a.example.com"),
            Some(&Location::Oss(Bucket {
                bucket: "rec-bucket".into(),
                prefix: "live".into(),
                endpoint: None,
                region: Some("cn-shanghai".into()),
            }))
        );
        assert_eq!(
            r.for_file(Provider::Aliyun, "b.example.com"),
            Some(&Location::S3(Bucket {
                bucket: "other".into(),
                prefix: "".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("us-east-1".into()),
            }))
        );
        assert_eq!(r.for_file(Provider::Tencent, "t"), Some(&Location::Http));
        assert_eq!(r.for_file(Provider::NginxRtmp, "n"), Some(&Location::Local));
        assert_eq!(
            r.for_file(Provider::Srs, "x.com"),
            Some(&Location::File("/mnt/rec".into()))
        );
        // The rule with no provider covers the rest.
        assert!(matches!(
            r.for_file(Provider::Srs, "y.com"),
            Some(Location::Cos(_))
        ));
    }

    #[test]
    fn most_specific_wins_and_none_without_a_rule() {
        let r = rules(&["srs=local", "srs:a=http"], &[]).unwrap();
        assert_eq!(r.for_file(Provider::Srs, "a"), Some(&Location::Http));
        assert_eq!(r.for_file(Provider::Srs, "b"), Some(&Location::Local));
        assert_eq!(r.for_file(Provider::Tencent, "a"), None);
    }

    #[test]
    fn a_url_names_its_object_by_its_path_in_a_bucket() {
        let loc = Location::Cos(Bucket {
            bucket: "vod-125".into(),
            prefix: "".into(),
            endpoint: None,
            region: Some("ap-guangzhou".into()),
        });
        let t = loc
            .target(
                "http://1253456789.vod2.myqcloud.com/9425a3e9/f0.flv?sign=x",
                &[],
            )
            .unwrap();
        assert_eq!(t.path, "9425a3e9/f0.flv");
    }

    #[test]
    fn mistakes_are_named() {
        for bad in [
            "wowza=local",
            "srs:=local",
            "srs=ftp://x",
            "s3://bucket",
            "oss://",
            "file://relative",
            "oss://b?endpoint=ftp://x",
            "oss://b?colour=red",
            "oss://b",
            "cos://bucket-125/live",
            "nonsense",
        ] {
            let e = rules(&[bad], &[]).unwrap_err();
            assert!(e.starts_with("--verify "), "{e}");
        }
        assert!(rules(&["srs=local", "srs=http"], &[]).is_err());
        assert!(rules(&[], &["relative=/x"]).is_err());
        assert!(rules(&[], &["/x"]).is_err());
    }

    #[test]
    fn targets() {
        let r = rules(&[], &["/data/rec=/mnt/r", "/data=/mnt/d"]).unwrap();
        let maps = r.path_maps();
        let t = Location::Local
            .target("/data/rec/live/s.flv", maps)
            .unwrap();
        assert_eq!(t.store, Store::Fs("/".into()));
        assert_eq!(t.path, "mnt/r/live/s.flv");
        assert_eq!(map_path("/data/other/x", maps), "/mnt/d/other/x");
        assert_eq!(map_path("/database/x", maps), "/database/x");
        assert_eq!(
            Location::Local.target("relative", maps),
            Err(Unchecked::NoRule)
        );
        assert_eq!(
            Location::Local.target("/data/../etc/passwd", maps),
            Err(Unchecked::NoRule)
        );
        let f = Location::File("/mnt/oss".into());
        assert_eq!(f.target("app/s/0.flv", &[]).unwrap().path, "app/s/0.flv");
        assert_eq!(f.target("../x", &[]), Err(Unchecked::NoRule));
        let b = Bucket {
            bucket: "b".into(),
            prefix: "rec".into(),
            endpoint: None,
            region: None,
        };
        assert_eq!(
            Location::Oss(b.clone())
                .target("/app/s.flv", &[])
                .unwrap()
                .path,
            "rec/app/s.flv"
        );
        let h = Location::Http
            .target("https://cdn.example.com:8443/a/b.mp4", &[])
            .unwrap();
        assert_eq!(h.store, Store::Http("https://cdn.example.com:8443".into()));
        assert_eq!(h.path, "a/b.mp4");
        assert_eq!(
            Location::Http.target("file:///etc/x", &[]),
            Err(Unchecked::NoRule)
        );
        assert_eq!(
            Location::Http.target("http://user:pw@h/x", &[]),
            Err(Unchecked::NoRule)
        );
    }
}
