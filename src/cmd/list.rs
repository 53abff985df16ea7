//! `hapki list`: placeholder removed below
