//! The HTTP side: reading the session cookie and writing `Set-Cookie` (`cookie`), the
//! cross-site request forgery check (`csrf`), and the `tower` layer that does a whole request
//! (`layer`).

pub(crate) mod cookie;
pub(crate) mod csrf;
pub(crate) mod layer;
