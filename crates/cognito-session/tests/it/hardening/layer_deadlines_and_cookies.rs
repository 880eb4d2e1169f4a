//! 8. Deadlines and cookies in the layer.
