//! DNS responder for user-defined networks.
