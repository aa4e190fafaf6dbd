//! Test support: a real `cos-local` on a free loopback port, and the signed requests a
//! terminal would make to it.

pub mod cos_local;
