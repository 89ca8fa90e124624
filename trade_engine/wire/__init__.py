"""Binary encodings shared by the journal, snapshots and the native protocol."""
