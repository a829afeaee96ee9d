//! leaseproof's two checkers on the DynamoDB lock client (the `dynamodb` plug-in): the
//! simulator from `scenarios/dynamodb/` (`sim`), the generic model driver (`model`), and
//! bad input (`bad_input`). One test binary.

#[path = "dynamodb/bad_input.rs"]
mod bad_input;
#[path = "dynamodb/model.rs"]
mod model;
#[path = "dynamodb/sim.rs"]
mod sim;
