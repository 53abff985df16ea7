//! `hapki serve`: checks the flags and the org, then hands over to `crate::serve`.

use crate::error::{Error, Result};
use crate::profile::Topology;
use crate::serve::{self, Options};
use crate::store::OrgLayout;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const SERVE_HELP: &str = "EXAMPLES:\n  hapki serve --org participant1                       # https://127.0.0.1:9500, http://127.0.0.1:8500\n  hapki serve --org participant1 --listen 0.0.0.0:443 --http 0.0.0.0:80 --out /etc/canton/certs\n\nHTTPS (the org's auth server cert and chain): /.well-known/jwks.json (and /.well_known/jwks.json),\n/crl/NAME.crl (DER) and /crl/NAME.crl.pem for NAME root, policy, intermediate, OCSP at POST /ocsp and\nGET /ocsp/BASE64, /healthz. HTTP (--http): the CRLs, OCSP and /healthz. Files are re-read when they\nchange; one log line per request on stderr; SIGTERM or Ctrl-C stops it after the requests in flight.\n\nEXIT CODES:\n  0  stopped by SIGTERM or SIGINT\n  2  could not start (no auth cert, an address in use, bad input)";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The org to serve.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// HTTPS address (JWKS, CRLs, OCSP, health).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9500")]
    pub listen: String,
    /// Plain HTTP address for the CRLs and OCSP; `off` to serve HTTPS only.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8500")]
    pub http: String,
    /// Topology profile (TOML); the built-in profiles/canton-ha.toml when left out.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The folder hapki init wrote.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub out: PathBuf,
}

pub fn run(args: &ServeArgs) -> Result<i32> {
    let topo = Topology::load(args.profile.as_deref())?;
    let org = topo.org(&args.org)?;
    let listen = addr(&args.listen, "--listen")?;
    let http = match args.http.as_str() {
        "off" | "none" => None,
        a => Some(addr(a, "--http")?),
    };
    if http == Some(listen) {
        return Err(Error::input(format!(
            "--listen and --http are both {listen}; give the plain HTTP side another port"
        )));
    }
    let layout = OrgLayout::new(&args.out, org.name.as_str(), &org.dns);
    serve::run(Options {
        org: org.name.as_str().to_string(),
        layout,
        listen,
        http,
        jwt: crate::token::stage::jwt_spec(org),
    })
}

fn addr(s: &str, flag: &str) -> Result<SocketAddr> {
    s.parse().map_err(|_| {
        Error::input(format!(
            "{flag} `{s}` is not an address with a port; write it as 127.0.0.1:9500 or [::1]:9500"
        ))
    })
}
