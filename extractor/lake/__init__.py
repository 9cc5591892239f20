"""The lake: its layout, storage backends, and the state kept in it (lock, watermarks,
manifests)."""
