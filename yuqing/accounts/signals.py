"""Account-related signal handlers (the login audit itself lives in yuqing.audit.signals)."""
