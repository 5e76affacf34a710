//! placeholder: typed records are built in a later step.
