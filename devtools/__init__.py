"""Development tools shipped with the gateway but not part of its domain (the fake upstream)."""
