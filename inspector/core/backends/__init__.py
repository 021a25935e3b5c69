"""Model backends: something that answers one conversation turn (see base.Backend)."""
