"""Routing: which items the model may decide alone, which go to people and at which tier."""
