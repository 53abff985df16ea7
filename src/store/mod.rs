//! The files on disk: the drop-in layout (which path holds what), the atomic `Plan` that writes
//! a run's files all together or not at all (with its `journal` for recovery), the `Lock` every
//! writer holds, the one guarded way of reading a file (`read`), and the one walk of a tree
//! (`walk`: no link followed, bounded depth).

pub mod journal;
pub mod layout;
pub mod lock;
pub mod modes;
pub mod plan;
pub mod read;
pub mod walk;

pub use layout::{
    root_cert_in, CaFiles, LeafFiles, OrgLayout, ResponderFiles, JWT_SIGNING_NAME, ORG_FOLDERS,
};
pub use lock::Lock;
pub use plan::{check_writable, Mode, Plan, Staged, Stager};
pub use read::{read, read_at, read_capped, read_io, read_text, CAP, PROFILE_CAP};
