//! The body of a shipment to a replica.
