"""Balances per user and asset (available + reserved), fee rates and transfers."""
