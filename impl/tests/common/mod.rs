//! What several test files share.

use leaseproof_impl::{Jobs, ProtocolConfig, Variant};

/// Short timings, so expiries, renewals and hand-overs all happen within a short run.
#[must_use]
pub fn tight(variant: Variant) -> ProtocolConfig {
    ProtocolConfig {
        kind: leaseproof_impl::ProtocolKind::Reference,
        ttl_ms: 1_000,
        renew_interval_ms: 300,
        drift_ppm_max: 1_000,
        safety_margin_ms: 0,
        fresh_window_ms: 400,
        requeue_interval_ms: 100,
        backoff_base_ms: 100,
        backoff_max_ms: 800,
        hold_ms: 1_500,
        write_interval_ms: 200,
        think_ms: 200,
        queue_capacity: 8,
        intent_ms: 0,
        progress_window_ms: 0,
        hold_writes: 0,
        jobs: Jobs::NONE,
        lock_keys: 0,
        variant,
    }
}
