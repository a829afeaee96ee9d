//! leaseproof-model: a stateright model that drives leaseproof-impl's state machines.
