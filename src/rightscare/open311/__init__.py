"""Open311 GeoReport v2 for mini-program and app backends, and the channel keys they use."""
