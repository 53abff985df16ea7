//! Domain types that user strings become at the edge, before any crypto runs: names (DNS labels),
//! SAN entries, key algorithms, leaf kinds and CA levels, durations and points in time. Each
//! parser's error is the sentence the user sees. No I/O lives here: every other module may
//! depend on this one, and it depends on none but `error`.

mod alg;
mod keystore;
mod kind;
mod name;
mod san;
mod time;

pub use self::time::{fmt_time, parse_days, At, Span};
pub use alg::KeyAlg;
pub use keystore::{CaKeyStore, Kdf, Pkcs11Uri};
pub use kind::{CaLevel, Kind};
pub use name::{parse_domain, Label};
pub use san::San;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(Label::parse("participant1", "name").is_ok());
        assert_eq!(Label::parse("Db-1", "name").unwrap().as_str(), "db-1");
        for bad in ["", "bad;name", "a/b", "-a", "a-", "a.b", &"x".repeat(64)] {
            assert!(Label::parse(bad, "name").is_err(), "{bad}");
        }
    }

    #[test]
    fn sans() {
        assert_eq!(
            San::parse("IP:::1").unwrap(),
            San::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("10.0.0.5").unwrap(),
            San::Ip("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            San::parse("DNS:Db.X.com").unwrap(),
            San::Dns("db.x.com".into())
        );
        assert!(San::parse("IP:300.1.1.1").is_err());
        assert!(San::parse("IP:0.0.0.0").is_err());
        assert!(San::parse("::").is_err());
        assert!(San::parse("999.1.1.1").is_err());
        assert!(San::parse("bad;name").is_err());
        assert!(San::parse("DNS:10.0.0.5").is_err());
        assert!(San::parse("DNS:pg.10").is_err());
        assert!(San::parse("DNS:pg.0x1f").is_err());
    }

    #[test]
    fn spans_and_times() {
        assert_eq!("1d".parse::<Span>().unwrap(), Span(86400));
        assert_eq!("3600s".parse::<Span>().unwrap(), Span(3600));
        assert_eq!("+30m".parse::<Span>().unwrap(), Span(1800));
        assert!("0s".parse::<Span>().is_err());
        assert!("-1d".parse::<Span>().is_err());
        assert!("1w".parse::<Span>().is_err());
        assert_eq!("0".parse::<At>().unwrap().0.unix_timestamp(), 0);
        assert_eq!(
            "2026-11-26T12:00:00Z"
                .parse::<At>()
                .unwrap()
                .0
                .unix_timestamp(),
            1795694400
        );
        assert!(parse_days("0").is_err());
        assert!(parse_days("-3").is_err());
        assert_eq!(parse_days("365").unwrap(), 365);
    }
}
