"""Seed data: the demo data set (`seed_demo`) and the scale data set (`seed_scale`)."""
