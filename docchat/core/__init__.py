"""The ground floor: settings, user-facing errors, locks. Imports nothing else from docchat."""
