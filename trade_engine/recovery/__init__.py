"""Snapshots of the core state and recovery: newest valid snapshot + replay of the journal."""
