"""Marketing's use cases: campaigns and their economics, forms, segments, email sequences."""
