//! Real lock and lease systems as leaseproof plug-ins ([`leaseproof_impl::Protocol`]), so a
//! team learns what *its* system survives, judged by the same oracles as the reference
//! protocol. Each module follows its system's own source: every rule names the file and
//! the line or doc sentence it comes from, and what is left out says why
//! (`docs/protocols/<system>.md` holds the fidelity table).
//!
//! - [`k8s`]: Kubernetes client-go leader election (`tools/leaderelection`), a
//!   compare-and-set record on `resourceVersion` observed over time, with the guarded work
//!   around it.
//! - [`dynamodb`]: the Amazon DynamoDB lock client, on the same store ([`cas`]), with the
//!   application that checks `isExpired()` before each write.

pub mod cas;
pub mod checks;
pub mod dynamodb;
pub mod k8s;
