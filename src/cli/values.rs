//! Values of the options that are more than a number or a path: addresses, seq lists, paces,
//! provider names. Each parser's message is what clap prints after "invalid value".

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use clap::ValueEnum;

use crate::providers::Provider;

/// A provider, as `recmon simulate --provider` names it. (No doc comments on the variants:
/// clap would list them as each value's help, which changes `--help`'s layout.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderName {
    // ApsaraVideo Live.
    Aliyun,
    NginxRtmp,
    Srs,
    // Tencent Cloud.
    Tencent,
}

impl From<ProviderName> for Provider {
    fn from(name: ProviderName) -> Provider {
        match name {
            ProviderName::Aliyun => Provider::Aliyun,
            ProviderName::NginxRtmp => Provider::NginxRtmp,
            ProviderName::Srs => Provider::Srs,
            ProviderName::Tencent => Provider::Tencent,
        }
    }
}

/// A provider's name as `recmon export --provider` takes it: as the journal writes it, or its
/// tag (`ali`, `ngx`, `srs`, `tc`), or `nginx` (see [`Provider::from_name`]).
pub fn parse_provider(name: &str) -> Result<Provider, String> {
    Provider::from_name(name).ok_or_else(|| {
        format!(
            "unknown provider {name:?}; one of {}",
            Provider::ALL.map(|p| p.as_str()).join(", ")
        )
    })
}

/// `IP:PORT`, plus two forms people type: `localhost:PORT` and a bare `PORT` (both loopback).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if s.trim().is_empty() {
        // Most often RECMON_LISTEN set to nothing, which clap passes on as a value.
        return Err(
            "the address is empty (is RECMON_LISTEN set to nothing? unset it, or set it to IP:PORT such as 0.0.0.0:8080)"
                .into(),
        );
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let loopback = |port: &str| {
        port.parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    };
    let found = match s.rsplit_once(':') {
        Some(("localhost", port)) => loopback(port),
        None => loopback(s),
        _ => None,
    };
    found.ok_or_else(|| {
        format!("{s:?} is not IP:PORT; use 0.0.0.0:8080 (all interfaces, for the provider) or 127.0.0.1:8080 (this machine only)")
    })
}

/// Journal seqs and ranges, as `--seq` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqList(pub Vec<std::ops::RangeInclusive<u64>>);

impl SeqList {
    /// Whether `seq` is listed.
    pub fn contains(&self, seq: u64) -> bool {
        self.0.iter().any(|r| r.contains(&seq))
    }
}

/// `12`, `12,15`, `40-45`, or a mix.
pub fn parse_seq_list(s: &str) -> Result<SeqList, String> {
    let bad = || format!("{s:?} is not a list of seqs; write e.g. 12 or 12,15,40-45");
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (a, b) = (
            a.parse::<u64>().map_err(|_| bad())?,
            b.parse::<u64>().map_err(|_| bad())?,
        );
        if a > b {
            return Err(bad());
        }
        out.push(a..=b);
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(SeqList(out))
}

/// How fast to send: a factor of the recorded pace, or as fast as the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// No waiting between requests.
    Max,
    /// Offsets are divided by this factor (2 = twice as fast).
    Factor(f64),
}

impl FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Factor(x)),
            _ => Err(format!(
                "expected a positive number (e.g. 1, 10, 0.5) or `max`, got {s:?}"
            )),
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Factor(x) => write!(f, "{x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("0.0.0.0:8080").unwrap().to_string(),
            "0.0.0.0:8080"
        );
        assert_eq!(parse_listen("[::]:8080").unwrap().to_string(), "[::]:8080");
        assert_eq!(
            parse_listen("localhost:9000").unwrap().to_string(),
            "127.0.0.1:9000"
        );
        assert_eq!(parse_listen("9000").unwrap().to_string(), "127.0.0.1:9000");
        let e = parse_listen("example.com:80").unwrap_err();
        assert!(e.contains("0.0.0.0:8080"), "{e}");
        assert!(parse_listen("localhost:99999").is_err());
        assert!(parse_listen("").unwrap_err().contains("RECMON_LISTEN"));
    }

    #[test]
    fn provider_names_are_the_providers_names() {
        let names: Vec<String> = ProviderName::value_variants()
            .iter()
            .map(|v| v.to_possible_value().unwrap().get_name().to_string())
            .collect();
        let want: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, want);
        for v in ProviderName::value_variants() {
            let name = v.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(Provider::from(*v).as_str(), name);
        }
    }

    #[test]
    fn export_provider_names() {
        assert_eq!(parse_provider("nginx"), Ok(Provider::NginxRtmp));
        assert_eq!(parse_provider("tc"), Ok(Provider::Tencent));
        assert_eq!(
            parse_provider("SRS").unwrap_err(),
            "unknown provider \"SRS\"; one of aliyun, nginx-rtmp, srs, tencent"
        );
    }

    #[test]
    fn seq_lists_and_speeds() {
        let l = parse_seq_list("12, 15,40-45").unwrap();
        assert!(l.contains(12) && l.contains(42) && !l.contains(13));
        assert!(parse_seq_list("5-3").is_err());
        assert!(parse_seq_list(",").is_err());
        assert_eq!("MAX".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("2.5".parse::<Speed>(), Ok(Speed::Factor(2.5)));
        assert!("0".parse::<Speed>().is_err());
        assert_eq!(Speed::Factor(10.0).to_string(), "10");
    }
}
