"""The FIX session layer: a sans-IO state machine, its stores and its configuration."""
