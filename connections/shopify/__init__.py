"""Shopify: both directions of the shop's connection."""
