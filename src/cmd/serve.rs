//! `hapki serve`: checks the flags and the org, then hands over to `crate::serve`.

use crate::cli::ServeArgs;
use crate::error::{Error, Result};
use crate::profile::Topology;
use crate::serve::{self, Options};
use crate::store::OrgLayout;
use std::net::SocketAddr;

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
