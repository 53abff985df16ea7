//! The files on disk: the drop-in layout (which path holds what) and the atomic `Plan` that
//! writes a run's files all together or not at all.

pub mod layout;
pub mod plan;

pub use layout::{
    root_cert_in, CaFiles, LeafFiles, OrgLayout, ResponderFiles, JWT_SIGNING_NAME, ORG_FOLDERS,
};
pub use plan::{check_writable, read, Mode, Plan};
